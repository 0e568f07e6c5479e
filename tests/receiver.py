"""A real HTTP receiver on 127.0.0.1 for the tests of outbound notifications (alert channels,
webhooks): it records every POST and answers with a programmed status."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    path: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers each POST with the next of ``statuses`` (the last one repeats). ``requests``
    keeps headers and raw bodies; ``received`` the bodies as JSON."""

    def __init__(self, status: int = 200, *, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or [status]
        self.requests: list[Request] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.requests.append(Request(dict(self.headers.items()), body, self.path))
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                code = receiver.statuses[index]
                self.send_response(code)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"no" if code >= 300 else b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def received(self) -> list[dict[str, Any]]:
        """The JSON object bodies (an Alertmanager list is in ``requests``)."""
        return [r.json for r in self.requests if isinstance(r.json, dict)]

    def of(self, model: str) -> list[Request]:
        """The webhook requests about ``model``."""
        return [
            r for r in self.requests if isinstance(r.json, dict) and r.json.get("model") == model
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

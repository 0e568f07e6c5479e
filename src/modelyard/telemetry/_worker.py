"""``modelyard worker --metrics-port``: /metrics, /health/live and /health/ready of a worker,
which serves no API, on a small threaded HTTP server of the standard library.

/metrics is the same Prometheus exposition as a server's (process and host gauges from the
sampler, job counters and durations) and, like a server's, needs a token unless
``metrics_public``; the health probes need none and say only which dependency is missing.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelyard.kit.errors import ProblemError
from modelyard.telemetry._setup import _registry

CHECK_SECONDS = 3.0

Check = Callable[[], object]
Authorise = Callable[[str | None], None]
"""Raises a 401 problem unless the bearer token (None: none sent) may read metrics."""


class WorkerEndpoints:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        checks: dict[str, Check],
        authorise: Authorise | None,
        refresh: list[Callable[[], object]] | None = None,
    ) -> None:
        self.checks = checks
        self.authorise = authorise
        self.refresh = refresh or []
        """Called before each /metrics answer: gauges read from shared state."""
        self._pool = ThreadPoolExecutor(max(1, len(checks)), thread_name_prefix="modelyard-ready")
        endpoints = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoints.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                return None  # probes every few seconds would drown the worker's log

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="modelyard-worker-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> WorkerEndpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def ready(self) -> dict[str, str | None]:
        futures = {name: self._pool.submit(check) for name, check in self.checks.items()}
        results: dict[str, str | None] = {}
        for name, future in futures.items():
            try:
                future.result(timeout=CHECK_SECONDS)
                results[name] = None
            except FutureTimeout:
                results[name] = f"no answer within {CHECK_SECONDS:g} s"
            except Exception as exc:
                detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
                results[name] = " ".join(str(detail).split())[:300]
        return results

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/metrics":
            if self.authorise is not None:
                bearer = request.headers.get("Authorization", "")
                token = bearer[7:] if bearer.lower().startswith("bearer ") else None
                try:
                    self.authorise(token)
                except ProblemError as exc:
                    self._problem(request, exc.status_code, exc.title, exc.detail)
                    return
            for refresh in self.refresh:
                with contextlib.suppress(Exception):  # a database away must not cost the scrape
                    refresh()
            self._send(request, 200, CONTENT_TYPE_LATEST, generate_latest(_registry()))
        elif path == "/health/live":
            self._json(request, 200, {"status": "alive"})
        elif path == "/health/ready":
            results = self.ready()
            checks = {name: error or "ok" for name, error in results.items()}
            missing = [f"{name} ({error})" for name, error in results.items() if error]
            if missing:
                self._problem(
                    request,
                    503,
                    "Service unavailable",
                    "Not ready: " + "; ".join(missing) + ".",
                    checks=checks,
                )
            else:
                self._json(request, 200, {"status": "ready", "checks": checks})
        else:
            self._problem(
                request, 404, "Not found", "A worker serves /metrics, /health/live, /health/ready."
            )

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, media_type: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", media_type)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("X-Content-Type-Options", "nosniff")
        if status == 401:
            request.send_header("WWW-Authenticate", "Bearer")
        request.end_headers()
        request.wfile.write(body)

    def _json(self, request: BaseHTTPRequestHandler, status: int, body: object) -> None:
        self._send(request, status, "application/json", json.dumps(body).encode())

    def _problem(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        title: str,
        detail: str,
        **extra: object,
    ) -> None:
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
        self._send(request, status, "application/problem+json", json.dumps(body).encode())

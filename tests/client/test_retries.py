"""Retries and answers that are not the API's, against a scripted HTTP server on a real socket.

The server answers each request with the next scripted response and records what it got, so a
test knows how many attempts the client made. Waits are asserted as lower bounds only (a
``Retry-After: 1`` must have been waited for); nothing here depends on the machine's speed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelyard.client import ApiError, Client, ModelyardError, RetryPolicy
from modelyard.client._retry import parse_retry_after

FAST = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.02)


@dataclass
class Scripted:
    url: str
    responses: list[tuple[int, dict[str, str], bytes]]
    seen: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    script = Scripted("", [])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            script.seen.append((self.command, self.path))
            status, headers, body = script.responses.pop(0) if script.responses else (500, {}, b"")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()


def _json(status: int, body: object, **headers: str) -> tuple[int, dict[str, str], bytes]:
    media = "application/problem+json" if status >= 400 else "application/json"
    return status, {"Content-Type": media, **headers}, json.dumps(body).encode()


PROBLEM_503 = {
    "type": "about:blank",
    "title": "Service unavailable",
    "status": 503,
    "detail": "Busy.",
}
HEALTHY = {"status": "ok", "version": "test"}


def test_503_is_retried_after_the_seconds_the_server_asks_for(scripted: Scripted) -> None:
    scripted.responses = [_json(503, PROBLEM_503, **{"Retry-After": "1"}), _json(200, HEALTHY)]
    started = time.monotonic()
    with Client(scripted.url, "t", retry=FAST) as client:
        assert client.health() == HEALTHY
    assert time.monotonic() - started >= 1.0
    assert len(scripted.seen) == 2


def test_429_with_a_long_retry_after_is_raised_with_it(scripted: Scripted) -> None:
    body = {"title": "Too many requests", "status": 429, "detail": "Slow down."}
    scripted.responses = [_json(429, body, **{"Retry-After": "3600"})]
    with Client(scripted.url, "t", retry=FAST) as client, pytest.raises(ApiError) as error:
        client.health()
    assert (error.value.status, error.value.retry_after, error.value.detail) == (
        429,
        3600.0,
        "Slow down.",
    )
    assert len(scripted.seen) == 1


def test_503_without_retry_after_backs_off_then_gives_up(scripted: Scripted) -> None:
    scripted.responses = [_json(503, PROBLEM_503)] * 4
    with Client(scripted.url, "t", retry=FAST) as client, pytest.raises(ApiError) as error:
        client.health()
    assert error.value.status == 503 and len(scripted.seen) == 4


def test_a_streamed_upload_is_not_sent_twice(scripted: Scripted, tmp_path: Path) -> None:
    scripted.responses = [_json(503, PROBLEM_503, **{"Retry-After": "0"}), _json(201, {})]
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"x" * 1000)
    with Client(scripted.url, "t", retry=FAST) as client, pytest.raises(ApiError) as error:
        client.versions.create("m", artifact=artifact)
    assert error.value.status == 503 and len(scripted.seen) == 1


def test_answers_that_are_not_modelyard_say_so(scripted: Scripted) -> None:
    scripted.responses = [
        (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"),
        (200, {"Content-Type": "text/html"}, b"<html>a login page</html>"),
    ]
    with Client(scripted.url, "t", retry=FAST) as client:
        with pytest.raises(ApiError) as not_found:
            client.models.get("m")
        assert not_found.value.status == 404
        assert "is the URL that of a modelyard server?" in not_found.value.detail
        with pytest.raises(ModelyardError, match="not JSON; is the URL that of a modelyard"):
            client.models.get("m")


def test_retry_after_as_an_http_date() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now) == 30.0
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert RetryPolicy(retries=1).delay(1, None) is None
    assert RetryPolicy(max_retry_after=10).delay(0, 11.0) is None

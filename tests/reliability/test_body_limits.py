"""Request bodies over their limits cost the server nothing, with or without a token.

A real ``modelyard serve`` (granian) receives bodies of 150-300 MB, declared or chunked, to
the login form, a JSON endpoint, the push endpoint and an upload route; it answers 413 (or
401 for missing or bad credentials where the route needs them) as a problem after reading a few KB (a few MB for an authenticated
JSON request), and its resident memory, read from /proc, grows by less than 20 MB. The
client writes until the answer arrives, like an attacker that never stops, and counts what
the server let it write before answering.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.served import LiveServer

MB = 1 << 20
PIECE = b"x" * (256 << 10)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Answer:
    status: int
    content_type: str
    body: dict  # type: ignore[type-arg]
    sent: int


def send_body(
    base: str, path: str, total: int, *, headers: dict[str, str], chunked: bool
) -> Answer:
    """POST ``total`` bytes to ``path``, writing until the server answers or hangs up."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = 0
    sock.setblocking(False)
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 60)
            if readable:
                break
            if not writable:
                raise AssertionError("the server neither reads nor answers")
            piece = PIECE[: total - sent]
            frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            try:
                written = sock.send(frame)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if chunked and written < len(frame):  # finish the frame before looking again
                sock.setblocking(True)
                sock.sendall(frame[written:])
                sock.setblocking(False)
            sent += len(piece)
        sock.setblocking(True)
        if chunked and sent >= total:
            sock.sendall(b"0\r\n\r\n")
        raw = b""
        while b"\r\n\r\n" not in raw or not _complete(raw):
            data = sock.recv(65536)
            if not data:
                break
            raw += data
    finally:
        sock.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return Answer(
        int(status_line.split()[1]), found.get("content-type", ""), json.loads(body), sent
    )


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            return len(body) >= int(line.split(":")[1])
    return False


def three_at_once(base: str, total: int) -> list[Answer]:
    """Three chunked bodies of ``total`` bytes at once, without a token."""
    answers: list[Answer] = []

    def one() -> None:
        answers.append(send_body(base, "/api/models", total, headers={}, chunked=True))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def test_bodies_over_the_limits_are_refused_before_they_are_read(live_server: LiveServer) -> None:
    server = live_server.served
    editor = {"Authorization": f"Bearer {live_server.tokens['editor']}"}
    name = f"push-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        server.base + "/api/targets",
        json={"name": name, "kind": "push", "start": False},
        headers=editor,
    )
    assert created.status_code == 201, created.text
    cases = [
        # (path, total, headers, chunked, status, most bytes the server may take)
        ("/api/auth/login", 150 * MB, {}, True, 413, 8 * MB),
        ("/api/models", 150 * MB, {}, False, 401, 8 * MB),
        ("/api/models", 150 * MB, {"Authorization": "Bearer not-a-token"}, True, 401, 8 * MB),
        ("/api/datasets", 150 * MB, {"Authorization": "Bearer not-a-token"}, False, 401, 8 * MB),
        ("/api/models", 150 * MB, editor, True, 413, 16 * MB),
        (f"/api/targets/{name}/metrics", 150 * MB, editor, True, 413, 24 * MB),
    ]
    pid = server.proc.pid
    # Warm every path once (imports, caches, the first JSON decode) before the baseline.
    for path, _, headers, chunked, _, _ in cases:
        send_body(server.base, path, 64 << 10, headers=headers, chunked=chunked)
    three_at_once(server.base, 64 << 10)  # and the server's threads for concurrent requests
    before = rss_bytes(pid)
    for path, total, headers, chunked, status, most in cases:
        answer = send_body(server.base, path, total, headers=headers, chunked=chunked)
        assert answer.status == status, (path, answer)
        assert answer.content_type == "application/problem+json"
        assert answer.body["status"] == status and answer.body["detail"]
        assert answer.sent < most, (path, answer.sent)
    assert [a.status for a in three_at_once(server.base, 300 * MB)] == [401, 401, 401]
    growth = rss_bytes(pid) - before
    assert growth < 20 * MB, f"RSS grew by {growth / MB:.1f} MB"

"""``GET /api/events``: one event stream per browser, carrying every live channel its tabs follow.

A browser allows six HTTP/1.1 connections per host, and an ``EventSource`` holds one for as
long as its page is open; with one stream per page, a seventh tab could not load anything.
The pages therefore share one connection (``static/events-worker.js``, a SharedWorker) and
ask it for *channels*; the worker opens this one stream for the union of them.

Each channel is one of the API's own event streams, read in-process through the whole app
(authentication, roles, limits and all) as if the browser had asked for it::

    jobs              GET /api/jobs/events
    job:<id>          GET /api/jobs/<id>/events
    deployment:<id>   GET /api/deployments/<id>/events

so the events' shapes are the API's, and a channel a user may not read fails here as it
would there. Every event of a channel goes out as one SSE message::

    id: <channel>~<its event id>|<channel>~<its event id>|...
    data: {"channel": "deployment:3", "event": "interval", "data": {...}}

The id holds the last event id of every channel, so a reconnect (``Last-Event-ID``, or
``?last=`` when the worker reopens the stream for a new set of channels) resumes each
channel where it was. A channel whose API stream ends (a finished job) sends
``{"channel": ..., "event": "end"}``; one that is refused sends ``"event": "error"`` with the
status and the problem's detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Scope

from modelyard.auth.deps import StreamViewer

__all__ = ["channel_path", "router"]

router = APIRouter()

MAX_CHANNELS = 16
PING_SECONDS = 15.0
_CHANNEL = re.compile(r"^(jobs|job:[1-9]\d{0,17}|deployment:[1-9]\d{0,17})$")
_ID_PART = re.compile(r"^([a-z]+(?::\d+)?)~([0-9A-Za-z_.:-]{1,64})$")
_FORWARDED_HEADERS = {b"cookie", b"authorization", b"host", b"user-agent", b"x-forwarded-for"}


def channel_path(channel: str) -> str | None:
    """The API stream behind a channel name, or ``None`` for a name that is none."""
    if not _CHANNEL.match(channel):
        return None
    if channel == "jobs":
        return "/api/jobs/events"
    kind, _, ident = channel.partition(":")
    return f"/api/jobs/{ident}/events" if kind == "job" else f"/api/deployments/{ident}/events"


def parse_ids(value: str | None) -> dict[str, str]:
    """``{channel: last event id}`` from a composite id (unknown parts are ignored)."""
    out: dict[str, str] = {}
    for part in (value or "").split("|")[:MAX_CHANNELS]:
        match = _ID_PART.match(part.strip())
        if match and channel_path(match[1]):
            out[match[1]] = match[2]
    return out


def compose_ids(ids: dict[str, str]) -> str:
    return "|".join(f"{channel}~{ident}" for channel, ident in sorted(ids.items()))


class _Frames:
    """Splits an SSE byte stream into ``(id, event, data)`` frames (comments dropped)."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str | None, str, str]]:
        self.buffer += chunk.replace(b"\r\n", b"\n")
        frames = []
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            ident: str | None = None
            event = "message"
            data: list[str] = []
            for line in block.decode("utf-8", "replace").split("\n"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    ident = value
                elif name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
            if data:
                frames.append((ident, event, "\n".join(data)))
        if len(self.buffer) > 1_048_576:  # no frame is this big; a broken stream would grow
            raise ValueError("an event longer than 1 MiB")
        return frames


def _message(channel: str, event: str, data: Any) -> dict[str, Any]:
    return {"channel": channel, "event": event, "data": data}


async def _follow(
    app: ASGIApp,
    scope: Scope,
    channel: str,
    last_id: str | None,
    out: asyncio.Queue[tuple[str, str | None, dict[str, Any]]],
) -> None:
    """Run the API stream of one channel through the app and queue its events."""
    path = channel_path(channel)
    assert path is not None
    headers = [(k, v) for k, v in scope["headers"] if k in _FORWARDED_HEADERS]
    if last_id:
        headers.append((b"last-event-id", last_id.encode()))
    sub_scope: Scope = {
        **scope,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": dict(scope.get("state") or {}),
    }
    sub_scope.pop("route", None)
    sub_scope.pop("endpoint", None)
    leave = asyncio.Event()
    frames = _Frames()
    status = 0
    error_body = b""

    async def receive() -> Message:
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, error_body
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if status != 200:
                error_body += body[:4096]
                return
            for ident, event, data in frames.feed(body):
                try:
                    parsed = orjson.loads(data)
                except orjson.JSONDecodeError:
                    parsed = data
                await out.put((channel, ident, _message(channel, event, parsed)))

    try:
        await app(sub_scope, receive, send)
    except Exception:  # the channel fails alone; the others carry on
        status = status if status not in (0, 200) else 500
    finally:
        leave.set()
    if status != 200:
        detail = ""
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            detail = str(orjson.loads(error_body).get("detail", ""))
        await out.put(
            (channel, None, _message(channel, "error", {"status": status, "detail": detail}))
        )
    else:
        await out.put((channel, None, _message(channel, "end", None)))


@router.get("/api/events")
async def events(
    request: Request,
    _: StreamViewer,
    channel: Annotated[list[str], Query(max_length=40)] = [],  # noqa: B006
    last: Annotated[str | None, Query(max_length=2000)] = None,
    last_event_id: Annotated[str | None, Header(max_length=2000)] = None,
) -> StreamingResponse:
    """Stream the events of several channels on one connection (the web pages' shared one)."""
    wanted = sorted({c for c in channel if channel_path(c)})[:MAX_CHANNELS]
    ids = parse_ids(last_event_id or last)
    ids = {c: i for c, i in ids.items() if c in wanted}
    app: ASGIApp = request.scope["app"]
    scope = dict(request.scope)

    async def body() -> AsyncIterator[bytes]:
        queue: asyncio.Queue[tuple[str, str | None, dict[str, Any]]] = asyncio.Queue(1000)
        tasks = [
            asyncio.create_task(_follow(app, scope, c, ids.get(c), queue), name=f"events {c}")
            for c in wanted
        ]
        try:
            yield b"retry: 2000\n\n"
            while True:
                try:
                    channel_name, ident, message = await asyncio.wait_for(queue.get(), PING_SECONDS)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if ident is not None:
                    ids[channel_name] = ident
                yield (
                    b"id: "
                    + compose_ids(ids).encode()
                    + b"\ndata: "
                    + orjson.dumps(message)
                    + b"\n\n"
                )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

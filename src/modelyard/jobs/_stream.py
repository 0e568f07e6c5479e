"""The bytes of an SSE job stream: current state first, then live events, coalesced.

Wire format, one event per job state::

    event: job
    id: <updated_at in microseconds>
    data: <the job as JSON, JobOut>

An event is a whole state, so when a stream falls behind (a slow client, a busy machine)
only the newest state of each job is sent: everything already waiting is read at once and
written as one chunk. Changes no event brought reach the stream through the process's one
resync loop (:mod:`modelyard.jobs.events`); after an inbox overflow the stream re-reads its
own changes. A comment line goes out after ``PING_SECONDS`` without data so proxies keep the
connection open.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from modelyard.jobs.events import JobEvent, Subscription
from modelyard.jobs.schemas import TERMINAL

PING_SECONDS = 15.0
_TERMINAL = frozenset(s.value for s in TERMINAL)

States = Callable[[], list[dict[str, Any]]]
Changes = Callable[[dt.datetime], list[dict[str, Any]]]


def frame(event: JobEvent) -> bytes:
    return b"event: job\nid: %d\ndata: %s\n\n" % (event.stamp, event.data)


class _Batcher:
    def __init__(self, end_on: int | None) -> None:
        self.sent: dict[int, int] = {}
        self.end_on = end_on
        self.ended = False

    def chunk(self, events: list[JobEvent]) -> bytes:
        """The newest unsent state of each job, oldest first, as one chunk."""
        newest: dict[int, JobEvent] = {}
        for event in events:
            kept = newest.get(event.job_id)
            if kept is None or event.stamp >= kept.stamp:
                newest[event.job_id] = event
        out = []
        for event in sorted(newest.values(), key=lambda e: e.stamp):
            if self.sent.get(event.job_id, -1) >= event.stamp:
                continue
            self.sent[event.job_id] = event.stamp
            out.append(frame(event))
            if event.job_id == self.end_on and event.status in _TERMINAL:
                self.ended = True
        if len(self.sent) > 10_000:
            self.sent.clear()
        return b"".join(out)


async def job_stream(
    sub: Subscription, initial: States, changed: Changes, *, end_on: int | None, hello: str
) -> AsyncIterator[bytes]:
    """The stream for a subscription made before ``initial()`` reads the current state."""
    batcher = _Batcher(end_on)
    yield f": {hello}\nretry: 2000\n\n".encode()
    high_water = dt.datetime.now(dt.UTC)
    chunk = batcher.chunk([JobEvent.from_state(s) for s in await run_in_threadpool(initial)])
    if chunk:
        yield chunk
    if batcher.ended:
        return
    last_write = time.monotonic()
    while True:
        wait = last_write + PING_SECONDS - time.monotonic()
        try:
            event = await sub.get(max(wait, 0.0))
        except EOFError:
            return
        events = [] if event is None else [event, *sub.drain()]
        if sub.overflowed:
            sub.overflowed = False
            read_from = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            states = await run_in_threadpool(changed, high_water)
            events += [JobEvent.from_state(s) for s in states]
            high_water = read_from
        chunk = batcher.chunk(events)
        if chunk:
            yield chunk
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= PING_SECONDS:
            yield b": ping\n\n"
            last_write = time.monotonic()
        if batcher.ended or sub.closed:
            return

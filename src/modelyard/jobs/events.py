"""Live job events: every state change and progress report, fanned out to SSE streams.

An event is the job's JSON (the ``JobOut`` shape), encoded once, plus the few fields a
stream filters on. Without Redis the fan-out is in-process: a worker thread hands the event
to each subscriber's event loop. With Redis every process publishes to one channel per
queue and each server process runs one listener feeding its local subscribers, so a browser
sees progress from a job running on any machine. Pub/sub is fire-and-forget: streams read
the jobs table on connect, and one resync loop per process re-reads the rows changed since
its last look every ``RESYNC_SECONDS`` for all the process's streams at once (one query,
however many streams are open), so a lost message, or a change made by a process this one
hears nothing from, only delays an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from modelyard.kit.backoff import Outage

logger = logging.getLogger(__name__)

RESYNC_SECONDS = 2.0
RESYNC_LIMIT = 1000
Changes = Callable[[dt.datetime], list[dict[str, Any]]]
"""Job states (``JobOut`` dicts) updated after a time, oldest first: the resync's query."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: int
    owner: str | None
    status: str
    cancel_requested: bool
    stamp: int
    """``updated_at`` in microseconds since the epoch: the SSE event id."""
    data: bytes
    """The job as JSON (JobOut)."""

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> JobEvent:
        updated: dt.datetime = state["updated_at"]
        return cls(
            job_id=state["id"],
            owner=state["submitted_by"],
            status=state["status"],
            cancel_requested=bool(state["cancel_requested"]),
            stamp=to_stamp(updated),
            data=orjson.dumps(state),
        )

    def to_wire(self) -> bytes:
        header = orjson.dumps(
            [self.job_id, self.owner, self.status, self.cancel_requested, self.stamp]
        )
        return header + b"\n" + self.data

    @classmethod
    def from_wire(cls, payload: bytes) -> JobEvent:
        header, data = payload.split(b"\n", 1)
        job_id, owner, status, cancel_requested, stamp = orjson.loads(header)
        return cls(job_id, owner, status, cancel_requested, stamp, data)


def to_stamp(value: dt.datetime) -> int:
    return int(value.timestamp() * 1_000_000)


Predicate = Callable[[JobEvent], bool]


class Subscription:
    """One SSE stream's inbox, fed from any thread, read in the stream's event loop.

    A burst of events costs one wake-up of the loop, not one per event; the inbox is bounded
    and, when full, drops events and flags ``overflowed`` so the stream re-reads the table.
    """

    def __init__(self, predicate: Predicate, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.predicate = predicate
        self.loop = loop
        self.size = size
        self.overflowed = False
        self.closed = False
        self._items: deque[JobEvent] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._ready = asyncio.Event()

    def offer(self, event: JobEvent) -> None:
        """Thread-safe; never blocks."""
        with self._lock:
            if len(self._items) >= self.size:
                self.overflowed = True
                return
            self._items.append(event)
            if self._wake_pending:
                return
            self._wake_pending = True
        self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
        self._ready.set()

    def close(self) -> None:
        """In the loop's thread: the stream ends at its next read."""
        self.closed = True
        self._ready.set()

    def drain(self) -> list[JobEvent]:
        """Every event already waiting (without blocking)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    async def get(self, timeout: float) -> JobEvent | None:
        """The next event, ``None`` on timeout; raises ``EOFError`` once closed."""
        if self.closed:
            raise EOFError
        with self._lock:
            if self._items:
                return self._items.popleft()
        self._ready.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        if self.closed:
            raise EOFError
        with self._lock:
            return self._items.popleft() if self._items else None


class Broadcaster:
    def __init__(self, redis_url: str | None, channel: str, inbox_size: int = 2000) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.inbox_size = inbox_size
        self._subscriptions: set[Subscription] = set()
        self._listeners: list[Callable[[JobEvent], None]] = []
        self._lock = threading.Lock()
        self._redis: Any = None
        self._listener_task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._publish_outage = Outage("Redis (publishing job events)", logger)
        self._listen_outage = Outage("Redis (job events from other processes)", logger)
        self._resync_outage = Outage("the database (job event resync)", logger)
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    @property
    def distributed(self) -> bool:
        return self._redis is not None

    def publish(self, event: JobEvent) -> None:
        """Send an event to every stream of every process (thread-safe, never raises)."""
        if self._redis is not None:
            try:
                self._redis.publish(self.channel, event.to_wire())
            except Exception as exc:
                self._publish_outage.failed(exc)
            else:
                self._publish_outage.succeeded()
                return
        self.dispatch(event)

    def add_listener(self, callback: Callable[[JobEvent], None]) -> None:
        """Call ``callback(event)`` for every event this process receives (keep it fast)."""
        self._listeners.append(callback)

    @contextlib.asynccontextmanager
    async def subscribe(self, predicate: Predicate) -> AsyncIterator[Subscription]:
        sub = Subscription(predicate, asyncio.get_running_loop(), self.inbox_size)
        with self._lock:
            self._subscriptions.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subscriptions.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def dispatch(self, event: JobEvent) -> None:
        """Deliver to this process's listeners and streams."""
        for callback in self._listeners:
            try:
                callback(event)
            except Exception:
                logger.exception("job event listener failed")
        with self._lock:
            subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            try:
                if sub.predicate(event):
                    sub.offer(event)
            except RuntimeError:  # that loop is closed: its stream is gone
                continue

    def offer_local(self, event: JobEvent) -> None:
        """Deliver to this process's streams only (what a resync found)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            try:
                if sub.predicate(event):
                    sub.offer(event)
            except RuntimeError:
                continue

    async def _resync(self, changes: Changes) -> None:
        high_water = dt.datetime.now(dt.UTC)
        while True:
            await asyncio.sleep(RESYNC_SECONDS)
            if not self._subscriptions:
                high_water = dt.datetime.now(dt.UTC)
                continue
            # A second of overlap: a row committed late with an earlier updated_at is seen;
            # streams drop states they already sent.
            read_from = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            try:
                states = await asyncio.to_thread(changes, high_water)
            except Exception as exc:
                self._resync_outage.failed(exc)
                continue
            self._resync_outage.succeeded()
            high_water = read_from
            for state in states:
                self.offer_local(JobEvent.from_state(state))

    async def start(self, changes: Changes | None = None) -> None:
        """Start the resync loop over ``changes`` and the Redis listener in the running loop."""
        if changes is not None and self._resync_task is None:
            self._resync_task = asyncio.create_task(self._resync(changes))
        if self._redis is not None and self._listener_task is None:
            ready = asyncio.Event()
            self._listener_task = asyncio.create_task(self._listen(ready))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 5)

    async def _listen(self, ready: asyncio.Event) -> None:
        import redis.asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(self.redis_url or "")
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    ready.set()
                    self._listen_outage.succeeded()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            event = JobEvent.from_wire(message["data"])
                        except (ValueError, TypeError):
                            continue
                        self.dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ready.set()  # a start-up does not wait for Redis: streams re-read the table
                await asyncio.sleep(self._listen_outage.failed(exc))
            finally:
                await client.aclose()

    async def stop(self) -> None:
        """End every stream (so the server can shut down) and stop the listener."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            with contextlib.suppress(RuntimeError):
                sub.loop.call_soon_threadsafe(sub.close)
        if self._resync_task is not None:
            self._resync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._resync_task
            self._resync_task = None
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener_task
            self._listener_task = None

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()

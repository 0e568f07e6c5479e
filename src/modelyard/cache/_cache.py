"""The :class:`Cache` object: cashews set up from settings, single flight, and the bridge that
lets a thread other than the event loop use it (see the package docstring)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import parse_qsl, urlparse

from starlette.concurrency import run_in_threadpool

from modelyard.cache import _metrics
from modelyard.config import Settings
from modelyard.kit.optional_imports import hidden

# cashews imports the Redis client (about 14 MB) to register its Redis backend; an embedded
# mem:// cache never uses it, so cashews loads without it and _register_redis() adds it.
with hidden("redis"):
    import cashews.wrapper.backend_settings as _cashews_backends
    from cashews import Cache as CashewsCache
    from cashews.backends.memory import Memory
    from cashews.exceptions import BackendNotAvailableError

__all__ = ["Cache", "cache_url", "open_cache"]

log = logging.getLogger("modelyard.cache")

CLOSE_SECONDS = 2.0
BLOCKING_TIMEOUT = 2.0
"""A thread waits this long for the event loop to answer a lookup, then counts a miss."""
MAX_VALUE_BYTES = 128 * 1024
"""Larger values are computed every time, not stored: the in-process levels are bounded by
entry count, so this bounds their memory (``size`` x this, 128 MiB at the default size)."""


def cache_url(settings: Settings) -> str:
    """The cashews URL for these settings: explicit, else Redis client-side, else ``mem://``."""
    if settings.cache.url:
        return settings.cache.url
    if settings.redis_url:
        separator = "&" if "?" in settings.redis_url else "?"
        return f"{settings.redis_url}{separator}client_side=true"
    return f"mem://?size={settings.cache.size}"


def _register_redis() -> None:
    """Register cashews' Redis backends, as cashews does when it loads with redis installed."""
    try:
        _cashews_backends.settings_url_parse("redis://")
    except BackendNotAvailableError:
        # Its import (run again, now that redis is visible) registers the backends.
        importlib.reload(_cashews_backends)


def open_cache(settings: Settings) -> Cache:
    """A cache configured from ``settings.cache`` (not started: see :meth:`Cache.start`)."""
    return Cache(
        cache_url(settings),
        enabled=settings.cache.enabled,
        ttl_seconds=settings.cache.ttl_seconds,
        size=settings.cache.size,
        key_prefix=settings.cache.key_prefix,
    )


class Cache:
    """Bytes by (name, key), with hit and miss counters labelled by ``name``.

    ``name`` says what is cached (``analytics.leaderboard``): it labels the metrics and
    starts the key. ``key`` must name everything the value depends on, generation included.
    """

    def __init__(
        self,
        url: str,
        *,
        enabled: bool = True,
        ttl_seconds: float = 60.0,
        size: int = 10_000,
        key_prefix: str = "modelyard:cache:",
    ) -> None:
        parsed = urlparse(url)
        params = {k.lower(): v.lower() for k, v in parse_qsl(parsed.query)}
        self.url = url
        self.enabled = enabled
        self.ttl = ttl_seconds
        self.key_prefix = key_prefix
        self.shared = parsed.scheme in ("redis", "rediss")
        """Entries reach other processes (Redis), not only this one (``mem://``)."""
        self._client_side = self.shared and params.get("client_side") in ("1", "true")
        options: dict[str, Any] = {"pickle_type": "null"}  # values are bytes: never unpickle
        if self._client_side:
            # The backend prefixes keys itself, and Redis pushes invalidations for that prefix.
            options["client_side_prefix"] = key_prefix
            options["local_cache"] = Memory(size=size)
            # redis-py 8 speaks RESP3 by default, where Redis sends invalidations as push
            # messages that cashews' listener (a RESP2 pub/sub subscriber) never sees: other
            # processes' local copies would then never be dropped.
            if "protocol" not in params:
                options["protocol"] = 2
        if self.shared:
            _register_redis()
        self._cashews = CashewsCache()
        self._cashews.setup(url, **options)
        self._flights: dict[str, asyncio.Future[bytes | None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Cache({self.url!r}, enabled={self.enabled})"

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> Cache:
        """Connect (Redis) on the running event loop, which then serves blocking callers."""
        await self._cashews.init()
        self._loop = asyncio.get_running_loop()
        return self

    async def close(self) -> None:
        self._loop = None  # blocking callers miss from now on instead of waiting
        # cashews' client-side listener sleeps 10 s after losing Redis, and its close waits
        # for that sleep (or ends cancelled): a shutdown during an outage must not hang on it.
        closing = asyncio.ensure_future(self._cashews.close())
        done, _ = await asyncio.wait({closing}, timeout=CLOSE_SECONDS)
        if not done:
            closing.cancel()
            log.warning("the cache did not close within %g s; leaving it", CLOSE_SECONDS)
        elif closing.cancelled() or closing.exception() is not None:
            log.info("the cache closed with an error (Redis away?)")

    def start_in_thread(self) -> Cache:
        """Start on an event loop of its own, in a daemon thread: for processes that have no
        event loop (a job worker, ``modelyard live run``)."""
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=loop.run_forever, name="modelyard-cache", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=30)
        return self

    def close_in_thread(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)
        loop.close()
        self._thread = None

    # -- keys -----------------------------------------------------------------------------
    def _key(self, name: str, key: str) -> str:
        if self._client_side:
            return f"{name}:{key}"
        return f"{self.key_prefix}{name}:{key}"

    def _tags(self, tags: Iterable[str]) -> list[str]:
        return [f"{self.key_prefix}{tag}" for tag in tags]

    # -- async API ------------------------------------------------------------------------
    async def _lookup(self, name: str, full_key: str) -> bytes | None:
        try:
            value = await self._cashews.get(full_key)
        except Exception:  # a cache that is down is a cache that misses
            _metrics.ERRORS.labels(name, "get").inc()
            log.warning("cache get failed for %s", name, exc_info=True)
            return None
        return value if isinstance(value, bytes) else None

    async def _store(
        self, name: str, full_key: str, value: bytes, ttl: float | None, tags: Iterable[str]
    ) -> None:
        if len(value) > MAX_VALUE_BYTES:
            return
        try:
            await self._cashews.set(full_key, value, expire=ttl or self.ttl, tags=self._tags(tags))
        except Exception:
            _metrics.ERRORS.labels(name, "set").inc()
            log.warning("cache set failed for %s", name, exc_info=True)

    async def get(self, name: str, key: str) -> bytes | None:
        if not self.enabled:
            return None
        value = await self._lookup(name, self._key(name, key))
        _metrics.LOOKUPS.labels(name, "hit" if value is not None else "miss").inc()
        return value

    async def set(
        self,
        name: str,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        if self.enabled:
            await self._store(name, self._key(name, key), value, ttl, tags)

    async def delete(self, name: str, key: str) -> None:
        await self._cashews.delete(self._key(name, key))

    async def invalidate(self, *tags: str) -> None:
        """Drop every entry stored with one of ``tags`` (in this process at once; in others
        through Redis, or not at all on ``mem://``: see the package docstring)."""
        await self._cashews.delete_tags(*self._tags(tags))

    async def get_or_compute(
        self,
        name: str,
        key: str,
        compute: Callable[[], bytes],
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> bytes:
        """The cached value, or ``compute()`` run in the thread pool and stored.

        Concurrent misses of one key in this process share one ``compute()``; if it raises,
        the callers that waited for it compute for themselves (and raise their own error)."""
        if not self.enabled:
            return await run_in_threadpool(compute)
        full_key = self._key(name, key)
        value = await self._lookup(name, full_key)
        if value is not None:
            _metrics.LOOKUPS.labels(name, "hit").inc()
            return value
        flight = self._flights.get(full_key)
        if flight is not None:
            shared = await asyncio.shield(flight)
            if shared is not None:
                _metrics.LOOKUPS.labels(name, "shared").inc()
                return shared
        _metrics.LOOKUPS.labels(name, "miss").inc()
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._flights[full_key] = future
        try:
            value = await run_in_threadpool(compute)
            future.set_result(value)
        finally:
            if not future.done():
                future.set_result(None)
            if self._flights.get(full_key) is future:
                del self._flights[full_key]
        await self._store(name, full_key, value, ttl, tags)
        return value

    # -- blocking API (threads other than the event loop) ---------------------------------
    def _blocking(self, name: str, operation: str, make: Callable[[], Any]) -> Any:
        loop = self._loop
        if not self.enabled or loop is None or loop.is_closed():
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("The cache's own event loop must await it, not block on it.")
        future = asyncio.run_coroutine_threadsafe(make(), loop)
        try:
            return future.result(BLOCKING_TIMEOUT)
        except (FutureTimeout, RuntimeError, OSError):
            future.cancel()
            _metrics.ERRORS.labels(name, operation).inc()
            return None

    def get_blocking(self, name: str, key: str) -> bytes | None:
        """:meth:`get` from a thread that is not the cache's event loop."""
        value = self._blocking(name, "get", lambda: self._lookup(name, self._key(name, key)))
        if self.enabled:
            _metrics.LOOKUPS.labels(name, "hit" if value is not None else "miss").inc()
        return value if isinstance(value, bytes) else None

    def set_blocking(
        self,
        name: str,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        """:meth:`set` from a thread that is not the cache's event loop."""
        self._blocking(
            name, "set", lambda: self._store(name, self._key(name, key), value, ttl, tags)
        )

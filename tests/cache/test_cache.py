"""The shared cache itself, on ``mem://``, on Redis and on Redis client-side caching: hits and
misses (and their counters), tags, single flight, a disabled cache, the blocking bridge for
threads, and a delete in one process reaching another's client-side copy."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from prometheus_client import REGISTRY

from modelyard.cache import Cache, cache_url
from modelyard.config import Settings
from tests.conftest import REDIS_URL


def _redis_available() -> bool:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
        client.ping()
        client.close()
        return True
    except redis.RedisError:
        return False


def _drop(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*")) + list(
        client.scan_iter(match=f"_tag:{prefix}*")
    )
    if keys:
        client.delete(*keys)
    client.close()


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


URLS = {
    "mem": "mem://?size=100",
    "redis": REDIS_URL,
    "client_side": f"{REDIS_URL}?client_side=true",
}


@pytest.fixture(params=list(URLS))
def url(request: pytest.FixtureRequest) -> str:
    if request.param != "mem" and not _redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return URLS[str(request.param)]


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own, removed from Redis afterwards."""
    value = f"test-{uuid.uuid4().hex[:10]}:"
    yield value
    if _redis_available():
        _drop(value)


@pytest.fixture
async def cache(url: str, prefix: str) -> AsyncIterator[Cache]:
    started = await Cache(url, key_prefix=prefix).start()
    yield started
    await started.close()


def _count(name: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "modelyard_cache_lookups_total", {"cache": name, "result": result}
        )
        or 0.0
    )


def test_the_url_follows_the_settings() -> None:
    assert cache_url(Settings()) == "mem://?size=1000"
    with_redis = Settings(redis_url="redis://127.0.0.1:6379/3")
    assert cache_url(with_redis) == "redis://127.0.0.1:6379/3?client_side=true"
    assert (
        cache_url(Settings(redis_url="redis://h/0?ssl=1")) == "redis://h/0?ssl=1&client_side=true"
    )
    explicit = Settings(redis_url="redis://h/0", cache={"url": "mem://?size=5"})  # type: ignore[arg-type]
    assert cache_url(explicit) == "mem://?size=5"


async def test_hit_and_miss_are_counted(cache: Cache) -> None:
    name = f"unit.{uuid.uuid4().hex[:6]}"
    assert await cache.get(name, "k") is None
    assert _count(name, "miss") == 1
    await cache.set(name, "k", b'{"a": 1}')
    assert await cache.get(name, "k") == b'{"a": 1}'
    assert _count(name, "hit") == 1
    assert await cache.get(name, "other") is None
    assert _count(name, "miss") == 2


async def test_values_are_bytes_never_unpickled(cache: Cache) -> None:
    # bytes that happen to be a pickle come back as the same bytes
    import pickle

    payload = pickle.dumps({"x": 1})
    await cache.set("unit.bytes", "k", payload)
    assert await cache.get("unit.bytes", "k") == payload


async def test_tags_drop_their_entries_only(cache: Cache) -> None:
    await cache.set("unit.tags", "a", b"1", tags=["dataset:1"])
    await cache.set("unit.tags", "b", b"2", tags=["dataset:1", "model:x"])
    await cache.set("unit.tags", "c", b"3", tags=["dataset:2"])
    await cache.invalidate("dataset:1")
    assert await cache.get("unit.tags", "a") is None
    assert await cache.get("unit.tags", "b") is None
    assert await cache.get("unit.tags", "c") == b"3"


async def test_concurrent_misses_compute_once(cache: Cache) -> None:
    name = f"unit.{uuid.uuid4().hex[:6]}"
    calls = 0
    release = threading.Event()

    def compute() -> bytes:
        nonlocal calls
        calls += 1
        release.wait(10)
        return b"value"

    tasks = [asyncio.create_task(cache.get_or_compute(name, "k", compute)) for _ in range(8)]
    await asyncio.sleep(0.05)
    release.set()
    assert await asyncio.gather(*tasks) == [b"value"] * 8
    assert calls == 1
    assert _count(name, "miss") == 1 and _count(name, "shared") == 7
    assert await cache.get_or_compute(name, "k", compute) == b"value"
    assert calls == 1 and _count(name, "hit") == 1


async def test_a_failed_computation_is_not_cached(cache: Cache) -> None:
    calls = 0

    def failing() -> bytes:
        nonlocal calls
        calls += 1
        raise ValueError("boom")

    for _ in range(2):
        with pytest.raises(ValueError, match="boom"):
            await cache.get_or_compute("unit.fail", "k", failing)
    assert calls == 2
    assert await cache.get_or_compute("unit.fail", "k", lambda: b"ok") == b"ok"


async def test_a_disabled_cache_passes_through(url: str, prefix: str) -> None:
    cache = await Cache(url, enabled=False, key_prefix=prefix).start()
    try:
        name = f"unit.{uuid.uuid4().hex[:6]}"
        calls = 0

        def compute() -> bytes:
            nonlocal calls
            calls += 1
            return str(calls).encode()

        assert await cache.get_or_compute(name, "k", compute) == b"1"
        assert await cache.get_or_compute(name, "k", compute) == b"2"
        await cache.set(name, "k", b"stored")
        assert await cache.get(name, "k") is None
        assert cache.get_blocking(name, "k") is None
        assert _count(name, "hit") == _count(name, "miss") == 0
    finally:
        await cache.close()


def test_threads_use_the_blocking_bridge(url: str, prefix: str) -> None:
    cache = Cache(url, key_prefix=prefix).start_in_thread()
    try:
        results: list[bytes | None] = []

        def work() -> None:
            cache.set_blocking("unit.bridge", "k", b"from a thread")
            results.append(cache.get_blocking("unit.bridge", "k"))

        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [b"from a thread"] * 3
    finally:
        cache.close_in_thread()
    # closed: a blocking call misses at once instead of waiting for a loop that is gone
    assert cache.get_blocking("unit.bridge", "k") is None


async def test_blocking_on_the_cache_loop_is_refused(cache: Cache) -> None:
    with pytest.raises(RuntimeError, match="await"):
        cache.get_blocking("unit.bridge", "k")


async def test_a_delete_reaches_another_process_client_side_copy(prefix: str) -> None:
    if not _redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    url = f"{REDIS_URL}?client_side=true"
    writer = await Cache(url, key_prefix=prefix).start()
    reader = await Cache(url, key_prefix=prefix).start()
    try:
        await writer.set("unit.push", "k", b"v1", tags=["t"])
        assert await reader.get("unit.push", "k") == b"v1"  # now in the reader's local copy
        await writer.set("unit.push", "k", b"v2")
        assert await _eventually(reader, "unit.push", "k", b"v2")
        await writer.invalidate("t")
        assert await _eventually(reader, "unit.push", "k", None)
    finally:
        await reader.close()
        await writer.close()


async def _eventually(cache: Cache, name: str, key: str, expected: bytes | None) -> bool:
    """Invalidation is pushed, so it arrives soon rather than at once: poll with a deadline."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if await cache.get(name, key) == expected:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_value_too_large_is_computed_every_time(cache: Cache) -> None:
    from modelyard.cache._cache import MAX_VALUE_BYTES

    calls = 0

    def big() -> bytes:
        nonlocal calls
        calls += 1
        return b"x" * (MAX_VALUE_BYTES + 1)

    for _ in range(2):
        assert len(await cache.get_or_compute("unit.big", "k", big)) == MAX_VALUE_BYTES + 1
    assert calls == 2

"""S_max predictions through the shared cache: a prediction computed by one process is found
by another through Redis; an in-process (``mem://``) cache is left to the first level."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from prometheus_client import REGISTRY

from modelyard.cache import Cache
from modelyard.deployments._predict import SHARED, Predictor
from tests.conftest import REDIS_URL
from tests.perfmodels.test_formulas import _profile

PARAMETERS = {"kind": "smax_v1", "profile": _profile().model_dump(mode="json")}
FEATURES = {"db_bench_args": "--value_size=400 --num=100000 --compression_type=none"}


def _count(result: str) -> float:
    labels = {"cache": SHARED, "result": result}
    return REGISTRY.get_sample_value("modelyard_cache_lookups_total", labels) or 0.0


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    value = f"test-{uuid.uuid4().hex[:10]}:"
    yield value
    keys = list(client.scan_iter(match=f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_prediction_is_found_by_another_process(prefix: str) -> None:
    url = f"{REDIS_URL}?client_side=true"
    first = Cache(url, key_prefix=prefix).start_in_thread()
    second = Cache(url, key_prefix=prefix).start_in_thread()
    try:
        misses, hits = _count("miss"), _count("hit")
        computed = Predictor(shared=first).predict("formula", PARAMETERS, {}, FEATURES)
        assert (_count("miss"), _count("hit")) == (misses + 1, hits)
        found = Predictor(shared=second).predict("formula", PARAMETERS, {}, FEATURES)
        assert (_count("miss"), _count("hit")) == (misses + 1, hits + 1)
        assert found == computed
        assert found.binding in found.bounds
        # a live correction scales the answer, not the cached value
        corrected = Predictor(shared=second).predict(
            "formula", {**PARAMETERS, "live_correction": 0.5}, {}, FEATURES
        )
        assert corrected.value == pytest.approx(computed.value * 0.5)
        other = Predictor(shared=second).predict(
            "formula", PARAMETERS, {}, {**FEATURES, "cpu_available_cores": 1.0}
        )
        assert _count("miss") == misses + 2  # other features: another key
        assert other.value > 0
    finally:
        second.close_in_thread()
        first.close_in_thread()


def test_an_in_process_cache_is_not_a_second_level() -> None:
    cache = Cache("mem://?size=10").start_in_thread()
    try:
        lookups = _count("miss") + _count("hit")
        predictor = Predictor(shared=cache)
        first = predictor.predict("formula", PARAMETERS, {}, FEATURES)
        assert predictor.predict("formula", PARAMETERS, {}, FEATURES) is first
        assert _count("miss") + _count("hit") == lookups
    finally:
        cache.close_in_thread()

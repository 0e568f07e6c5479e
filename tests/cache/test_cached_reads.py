"""The cached reads through the API, with two app instances on one database (SQLite and
PostgreSQL) standing for two server processes: with ``mem://`` each has a cache of its own,
with Redis client-side caching they share one. Either way a write made through one instance
is in the very next read of the other (never a stale answer), a repeated read is a hit, and
a disabled cache answers correctly without counting anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from modelyard.app import create_app
from modelyard.config import CacheSettings, Settings
from tests.conftest import REDIS_URL, Api
from tests.evaluations.test_api import SMALL_CSV, dataset, evaluate, linear_model, wait_for

TREND = "evaluations.trend"
PREVIEW = "datasets.preview"


def _count(name: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "modelyard_cache_lookups_total", {"cache": name, "result": result}
        )
        or 0.0
    )


def _instance(settings: Settings, *, workers: int, cache: CacheSettings) -> Settings:
    copy = settings.model_copy(deep=True)
    copy.jobs.workers = workers
    copy.live.enabled = False
    copy.cache = cache
    return copy


@pytest.fixture(params=["mem", "redis"])
def cache_settings(request: pytest.FixtureRequest) -> Iterator[CacheSettings]:
    """``mem://`` (one cache per instance) or Redis client-side (shared), with a key prefix
    of this test's own that is removed afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    if request.param == "mem":
        yield CacheSettings(url="mem://?size=1000", key_prefix=prefix)
        return
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    yield CacheSettings(url=f"{REDIS_URL}?client_side=true", key_prefix=prefix)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def two_instances(
    settings: Settings, cache_settings: CacheSettings, tokens: dict[str, tuple[str, str]]
) -> Iterator[tuple[Api, Api]]:
    """Instance A runs the jobs; instance B only serves. Both as an editor."""
    token = tokens["editor"][1]
    with ExitStack() as stack:
        first = stack.enter_context(
            TestClient(create_app(_instance(settings, workers=1, cache=cache_settings)))
        )
        second = stack.enter_context(
            TestClient(create_app(_instance(settings, workers=0, cache=cache_settings)))
        )
        yield Api(first, token), Api(second, token)


def _evaluated(api: Api, model: str, dataset_id: int) -> None:
    done = wait_for(api, evaluate(api, model=model, dataset=dataset_id, target="y")["id"])
    assert done["status"] == "succeeded", done


def _ranked(api: Api, dataset_name: str) -> list[tuple[str, int]]:
    r = api.get("/analytics/leaderboard", params={"dataset": dataset_name, "metric": "mae"})
    assert r.status_code == 200, r.text
    return [(e["model"], e["version"]) for e in r.json()["entries"]]


def _trend(api: Api, model: str) -> list[int]:
    r = api.get(f"/models/{model}/metrics", params={"metric": "mae"})
    assert r.status_code == 200, r.text
    return [p["version"] for p in r.json()["points"]]


def test_a_write_in_one_instance_is_seen_by_the_other(
    two_instances: tuple[Api, Api], cache_settings: CacheSettings, unique: str
) -> None:
    a, b = two_instances
    name, model = f"cache-{unique}", f"cache-m-{unique}"
    data = dataset(a, name, SMALL_CSV)
    linear_model(a, model, 3.0, 1.2)
    linear_model(a, model, 2.0, 2.0)
    _evaluated(a, f"{model}/1", data)

    assert _ranked(b, name) == [(model, 1)]
    misses = _count(TREND, "miss")
    assert _trend(b, model) == [1]
    assert _count(TREND, "miss") == misses + 1
    hits = _count(TREND, "hit")
    assert _trend(b, model) == [1]
    assert _count(TREND, "hit") == hits + 1
    assert _trend(a, model) == [1]
    if cache_settings.url and cache_settings.url.startswith("redis"):
        # A found what B computed: no second computation anywhere
        assert _count(TREND, "miss") == misses + 1
    else:
        assert _count(TREND, "miss") == misses + 2

    _evaluated(a, f"{model}/2", data)  # a job run by instance A
    assert sorted(_ranked(b, name)) == [(model, 1), (model, 2)]
    assert sorted(_ranked(a, name)) == [(model, 1), (model, 2)]
    assert _trend(b, model) == [1, 2]

    assert a.delete(f"/models/{model}/versions/2").status_code == 204
    assert _trend(b, model) == [1]  # its evaluation lost the link to a version
    assert b.get(f"/models/{model}-gone/metrics", params={"metric": "mae"}).status_code == 404
    r = b.get("/analytics/leaderboard", params={"dataset": f"{name}-gone", "metric": "mae"})
    assert r.status_code == 404
    r = b.get("/analytics/leaderboard", params={"dataset": name, "metric": "banana"})
    assert r.status_code == 400 and "cannot be ranked" in r.json()["detail"]


def test_a_disabled_cache_passes_through(
    settings: Settings, tokens: dict[str, tuple[str, str]], unique: str
) -> None:
    disabled = _instance(settings, workers=1, cache=CacheSettings(enabled=False))
    with TestClient(create_app(disabled)) as client:
        api = Api(client, tokens["editor"][1])
        name, model = f"nocache-{unique}", f"nocache-m-{unique}"
        data = dataset(api, name, SMALL_CSV)
        linear_model(api, model)
        linear_model(api, model, 2.0, 2.0)
        _evaluated(api, f"{model}/1", data)
        counted = [_count(TREND, r) for r in ("hit", "miss", "shared")]
        assert _trend(api, model) == [1]
        assert _trend(api, model) == [1]
        _evaluated(api, f"{model}/2", data)
        assert _trend(api, model) == [1, 2]
        assert [_count(TREND, r) for r in ("hit", "miss", "shared")] == counted


def test_a_preview_is_cached_until_its_dataset_is_deleted(
    two_instances: tuple[Api, Api], unique: str
) -> None:
    a, b = two_instances
    data = dataset(a, f"preview-{unique}", SMALL_CSV)
    path = f"/datasets/{data}/preview"
    first = b.get(path, params={"limit": 2})
    assert first.status_code == 200, first.text
    assert first.json() == {
        "dataset": data,
        "columns": a.get(f"/datasets/{data}").json()["columns"],
        "rows": [{"a": 1, "y": 4.2, "group": "x"}, {"a": 2, "y": 5.0, "group": "y"}],
    }
    hits = _count(PREVIEW, "hit")
    assert b.get(path, params={"limit": 2}).json() == first.json()
    assert _count(PREVIEW, "hit") == hits + 1
    assert len(b.get(path, params={"limit": 3}).json()["rows"]) == 3  # another key
    assert a.delete(f"/datasets/{data}").status_code == 204
    assert b.get(path, params={"limit": 2}).status_code == 404

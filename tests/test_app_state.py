"""Two apps in one process, on one database, do not see each other's state.

Each app's lifespan makes its own job runtime (queue, events, workers) and its own cache, and
code reaches them through the request (dependencies) or the job context, never through a
process-wide registry. So a job submitted through one app is queued on that app's queue,
whichever app started last.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelyard.app import create_app
from modelyard.cache import Cache
from modelyard.config import Settings
from modelyard.registry import _reads as reads
from modelyard.registry._generation import generation_now
from tests.conftest import Api


def _instance(settings: Settings, home: Path) -> Settings:
    copy = settings.model_copy(deep=True)
    copy.home = home  # its own home: its own SQLite queue file and artifacts
    copy.jobs.workers = 0  # nothing runs: what each queue holds stays visible
    copy.live.enabled = False
    return copy


@pytest.fixture
def two_apps(
    settings: Settings, tmp_path: Path, tokens: dict[str, tuple[str, str]]
) -> Iterator[tuple[TestClient, TestClient]]:
    if settings.redis_url:
        pytest.skip("two apps on one Redis queue share it by design")
    with ExitStack() as stack:
        first = stack.enter_context(TestClient(create_app(_instance(settings, tmp_path / "first"))))
        second = stack.enter_context(
            TestClient(create_app(_instance(settings, tmp_path / "second")))
        )
        yield first, second


def test_a_job_goes_to_the_queue_of_the_app_that_took_it(
    two_apps: tuple[TestClient, TestClient], tokens: dict[str, tuple[str, str]]
) -> None:
    first, second = two_apps
    admin = tokens["admin"][1]
    queues = [client.app.state.jobs.huey for client in (first, second)]  # type: ignore[attr-defined]
    before = [queue.pending_count() for queue in queues]
    r = Api(first, admin).post("/jobs", json={"kind": "sleep", "params": {"seconds": 0}})
    assert r.status_code == 201, r.text
    assert [queue.pending_count() - b for queue, b in zip(queues, before, strict=True)] == [1, 0]
    r = Api(second, admin).post("/jobs", json={"kind": "sleep", "params": {"seconds": 0}})
    assert r.status_code == 201, r.text
    assert [queue.pending_count() - b for queue, b in zip(queues, before, strict=True)] == [1, 1]


def test_each_app_hands_its_own_cache_to_its_jobs(
    two_apps: tuple[TestClient, TestClient],
) -> None:
    states = [client.app.state for client in two_apps]  # type: ignore[attr-defined]
    assert states[0].cache is not states[1].cache
    for state in states:
        assert state.jobs.cache is state.cache


def test_registry_reads_are_cached_per_app(
    two_apps: tuple[TestClient, TestClient], tokens: dict[str, tuple[str, str]], unique: str
) -> None:
    """Each app keeps its registry reads in its own cache: what one stored, the other has not
    (both answer the same, since both key them by the database's registry generation)."""
    first, second = two_apps
    editor, viewer = tokens["editor"][1], tokens["viewer"][1]
    name = f"per-app-{unique}"
    assert Api(first, editor).post("/models", json={"name": name}).status_code == 201
    path = f"/api/models/{name}"
    assert Api(first, viewer).get(f"/models/{name}").json()["name"] == name
    caches = [client.app.state.cache for client in two_apps]  # type: ignore[attr-defined]
    database = first.app.state.db  # type: ignore[attr-defined]

    async def stored(cache: Cache) -> bytes | None:
        return await cache.get(reads.NAME, f"{generation_now(database)}:{path}?")

    held = [first.portal.call(stored, caches[0]), second.portal.call(stored, caches[1])]  # type: ignore[union-attr]
    assert held[0] is not None and held[1] is None
    assert Api(second, viewer).get(f"/models/{name}").content == held[0]

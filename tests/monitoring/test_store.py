"""The time-series store on SQLite and PostgreSQL: writes, queries, rollups, retention."""

from __future__ import annotations

import math

import pytest

from modelyard.kit.db import Database
from modelyard.monitoring.store import MINUTE_MS, MetricStore

T0 = 1_800_000_000_000  # a whole minute


@pytest.fixture
def store(database: Database) -> MetricStore:
    return MetricStore(database.engine)


def _samples(n: int, start: int = T0) -> list[tuple[int, dict[str, float]]]:
    return [
        (start + i * 1000, {"ops_per_sec": float(i), "latency_p99_us": 10.0 * i}) for i in range(n)
    ]


def test_written_points_are_queryable_raw_and_bucketed(store: MetricStore, unique: str) -> None:
    owner = f"target:test-{unique}"
    assert store.write(owner, _samples(120)) == 240
    raw = store.query(owner, from_ms=T0, to_ms=T0 + 119_000, names=["ops_per_sec"])
    assert raw.series["ops_per_sec"]["avg"] == [float(i) for i in range(120)]
    assert "latency_p99_us" not in raw.series
    bucketed = store.query(owner, from_ms=T0, to_ms=T0 + 119_000, step_ms=10_000)
    ops = bucketed.series["ops_per_sec"]
    assert ops["t"][:2] == [T0, T0 + 10_000]
    assert ops["avg"][0] == pytest.approx(4.5)
    assert ops["min"][0] == 0.0 and ops["max"][0] == 9.0 and ops["count"][0] == 10


def test_a_point_written_again_replaces_the_first_and_nan_is_skipped(
    store: MetricStore, unique: str
) -> None:
    owner = f"target:test-{unique}"
    store.write(owner, [(T0, {"x": 1.0})])
    store.write(owner, [(T0, {"x": 2.0, "y": math.nan})])
    result = store.query(owner, from_ms=T0, to_ms=T0)
    assert result.series["x"]["avg"] == [2.0]
    assert result.series.get("y", {"avg": []})["avg"] == []


def test_rollups_answer_minute_steps_and_late_points_are_rolled_up_again(
    store: MetricStore, unique: str
) -> None:
    owner = f"target:test-{unique}"
    store.write(owner, _samples(180))
    store.rollup(now=T0 + 180_000)
    result = store.query(
        owner, from_ms=T0, to_ms=T0 + 179_999, step_ms=MINUTE_MS, names=["ops_per_sec"]
    )
    assert result.source.startswith("rollup")
    ops = result.series["ops_per_sec"]
    assert ops["t"] == [T0, T0 + MINUTE_MS, T0 + 2 * MINUTE_MS]
    assert ops["avg"] == pytest.approx([29.5, 89.5, 149.5])
    assert ops["count"] == [60, 60, 60]
    # a point that arrives after its minute was rolled up marks it dirty
    store.write(owner, [(T0 + 500, {"ops_per_sec": 1000.0})])
    store.rollup(now=T0 + 180_000)
    again = store.query(
        owner, from_ms=T0, to_ms=T0 + 179_999, step_ms=MINUTE_MS, names=["ops_per_sec"]
    )
    assert again.series["ops_per_sec"]["max"][0] == 1000.0
    assert again.series["ops_per_sec"]["count"][0] == 61


def test_retention_drops_old_raw_points_but_keeps_their_rollups(
    database: Database, unique: str
) -> None:
    store = MetricStore(
        database.engine, raw_retention_ms=10 * MINUTE_MS, rollup_retention_ms=60 * MINUTE_MS
    )
    owner = f"target:test-{unique}"
    store.write(owner, _samples(120))
    store.rollup(now=T0 + 120_000)
    deleted = store.apply_retention(now=T0 + 11 * MINUTE_MS)
    assert deleted["points"] >= 240 * 0 + 120  # the first minute of both series at least
    assert (
        store.query(owner, from_ms=T0, to_ms=T0 + 59_999, names=["ops_per_sec"]).series[
            "ops_per_sec"
        ]["t"]
        == []
    )
    rolled = store.query(
        owner, from_ms=T0, to_ms=T0 + 119_999, step_ms=MINUTE_MS, names=["ops_per_sec"]
    )
    assert rolled.series["ops_per_sec"]["count"] == [60, 60]
    store.apply_retention(now=T0 + 62 * MINUTE_MS)
    gone = store.query(
        owner, from_ms=T0, to_ms=T0 + 119_999, step_ms=MINUTE_MS, names=["ops_per_sec"]
    )
    assert gone.series["ops_per_sec"]["t"] == []


def test_samples_between_groups_by_time_and_forget_owner_deletes(
    store: MetricStore, unique: str
) -> None:
    owner = f"deployment:test-{unique}"
    store.write(owner, _samples(5))
    samples = store.samples_between(owner, T0, T0 + 10_000)
    assert [ts for ts, _ in samples] == [T0 + 1000 * i for i in range(1, 5)]
    assert samples[0][1] == {"ops_per_sec": 1.0, "latency_p99_us": 10.0}
    store.forget_owner(owner)
    assert store.samples_between(owner, 0, T0 + 10_000) == []

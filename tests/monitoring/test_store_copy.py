"""The bulk write path of each backend (COPY on PostgreSQL, executemany on SQLite) stores
exactly the points the plain multi-row INSERT stores: same keys, same float bits, with
replacements, two writes in one caller transaction, and a rolled-back one."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from modelyard.kit.db import Database
from modelyard.models import MetricPoint, MetricSeries
from modelyard.monitoring import store as store_module
from modelyard.monitoring.store import MetricStore

T0 = 1_800_000_000_000
ODD_VALUES = [0.1, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, -2.5, 1 / 3, 123456789.123456789]
N = 600


@pytest.fixture
def store(database: Database) -> MetricStore:
    """The store as the application builds it: COPY on PostgreSQL."""
    return MetricStore(database.engine)


@pytest.fixture
def insert_store(database: Database) -> MetricStore:
    return MetricStore(database.engine, copy=False)


def _samples(n: int, start: int = T0, scale: float = 1.0) -> list[tuple[int, dict[str, float]]]:
    return [
        (
            start + i,
            {
                "a": ODD_VALUES[i % len(ODD_VALUES)] * scale,
                "b": float(i) * scale,
                "skipped": math.inf,
            },
        )
        for i in range(n)
    ]


def _stored(database: Database, owner: str) -> dict[tuple[str, int], str]:
    """(series name, ts) -> repr of the stored value: repr tells -0.0 from 0.0, so two paths
    compare bit for bit (SQLite keeps -0.0 as 0.0, on either path)."""
    query = (
        sa.select(MetricSeries.name, MetricPoint.ts_ms, MetricPoint.value)
        .join(MetricPoint, MetricPoint.series_id == MetricSeries.id)
        .where(MetricSeries.owner == owner)
    )
    with database.engine.connect() as conn:
        return {(name, ts): repr(value) for name, ts, value in conn.execute(query)}


def _expected(*batches: list[tuple[int, dict[str, float]]]) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    for samples in batches:
        for ts, values in samples:
            out.update({(n, ts): v for n, v in values.items() if math.isfinite(v)})
    return out


def _values(stored: dict[tuple[str, int], str]) -> dict[tuple[str, int], float]:
    return {key: float(text) for key, text in stored.items()}


def test_default_path_stores_what_insert_stores(
    store: MetricStore, insert_store: MetricStore, database: Database, unique: str
) -> None:
    samples = _samples(N)
    assert store.write(f"target:bulk-{unique}", samples) == 2 * N
    assert insert_store.write(f"target:insert-{unique}", samples) == 2 * N
    bulk = _stored(database, f"target:bulk-{unique}")
    assert bulk == _stored(database, f"target:insert-{unique}")
    assert _values(bulk) == _expected(samples)


def test_a_batch_replaces_earlier_points(
    store: MetricStore, insert_store: MetricStore, database: Database, unique: str
) -> None:
    first, later = _samples(N), _samples(2 * N, start=T0 + N // 2, scale=-0.5)
    for which, s in (("bulk", store), ("insert", insert_store)):
        s.write(f"target:replace-{which}-{unique}", first)
        s.write(f"target:replace-{which}-{unique}", later)
    bulk = _stored(database, f"target:replace-bulk-{unique}")
    assert bulk == _stored(database, f"target:replace-insert-{unique}")
    assert _values(bulk) == _expected(first, later)


def test_two_batches_in_one_caller_transaction_and_a_rollback(
    store: MetricStore, database: Database, unique: str
) -> None:
    owner = f"target:txn-{unique}"
    first, second = _samples(N), _samples(N, start=T0 + N // 2, scale=0.5)
    with database.engine.begin() as conn:
        store.write(owner, first, conn=conn)
        store.write(owner, second, conn=conn)
    assert _values(_stored(database, owner)) == _expected(first, second)

    rolled_back = f"target:rollback-{unique}"
    with pytest.raises(RuntimeError), database.engine.begin() as conn:
        store.write(rolled_back, first, conn=conn)
        raise RuntimeError("abort the caller's transaction")
    assert _stored(database, rolled_back) == {}
    # The connections are usable afterwards and nothing of the aborted batch comes back.
    for _ in range(3):
        store.write(rolled_back, second)
    assert _values(_stored(database, rolled_back)) == _expected(second)


def test_postgres_writes_through_copy_and_sqlite_refuses_it(
    store: MetricStore, database: Database, backend: str, unique: str
) -> None:
    if backend == "sqlite":
        with pytest.raises(ValueError, match="PostgreSQL"):
            MetricStore(database.engine, copy=True)
        return
    calls: list[int] = []
    original = store_module._copy_upsert

    def spy(conn: sa.Connection, rows: dict[tuple[int, int], float]) -> None:
        calls.append(len(rows))
        original(conn, rows)

    store_module._copy_upsert = spy  # type: ignore[assignment]
    try:
        store.write(f"target:spy-{unique}", _samples(3))
    finally:
        store_module._copy_upsert = original  # type: ignore[assignment]
    assert calls == [6]

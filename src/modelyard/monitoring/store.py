"""The time-series store: bulk writes of raw points, 1-minute rollups, retention and queries.

Series are named per owner (``target:<id>``, ``deployment:<id>``); their ids are cached in
the process, so a write is one bulk insert of ``(series_id, ts_ms, value)`` rows in one
transaction: a point is queryable as soon as the write returns. A point written again for the
same series and millisecond replaces the earlier one. On SQLite the bulk insert is a Core
``executemany``; on PostgreSQL it is a binary COPY through psycopg into a temporary table and
one ``INSERT .. ON CONFLICT`` from there (COPY cannot upsert), 2-2.7x the rows per second of
a multi-row INSERT for batches of 200 to 10,000 points, and no slower for a few dozen.

Rollups are computed by :meth:`MetricStore.rollup` (the live supervisor calls it every few
seconds) for every minute that has ended; points that arrive late, for a minute already rolled
up, mark it dirty so the next pass recomputes it. :meth:`MetricStore.apply_retention` drops raw
points older than ``raw_retention`` (24 h by default) and rollups older than
``rollup_retention`` (30 days). A query with a step of whole minutes reads the rollups for
the rolled-up past and the raw points for the rest, so old ranges stay answerable.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from modelyard.models import MetricPoint, MetricRollup, MetricRollupState, MetricSeries

_SERIES = cast(sa.Table, MetricSeries.__table__)
_POINTS = cast(sa.Table, MetricPoint.__table__)
_STATE = cast(sa.Table, MetricRollupState.__table__)
MINUTE_MS = 60_000
DAY_MS = 86_400_000
_LATE_SLACK_MS = 2 * MINUTE_MS
_IN_CHUNK = 500

__all__ = ["MINUTE_MS", "MetricStore", "QueryResult", "now_ms"]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class QueryResult:
    """Columnar series: for each name, bucket start times and avg/min/max/count per bucket."""

    from_ms: int
    to_ms: int
    step_ms: int
    source: str
    series: dict[str, dict[str, list[float]]]

    def columns(
        self, fields: Sequence[str] | None = None, digits: int | None = None
    ) -> dict[str, dict[str, list[float]]]:
        """The series with only the times and these columns of each bucket, the values
        rounded to ``digits`` significant digits (what a chart can show compresses far better
        than a double's 17)."""
        keep = ("t", *(fields if fields is not None else ("avg", "min", "max", "count")))
        if digits is None:
            return {name: {k: cols[k] for k in keep} for name, cols in self.series.items()}
        return {
            name: {
                k: cols[k] if k in ("t", "count") else [_round(v, digits) for v in cols[k]]
                for k in keep
            }
            for name, cols in self.series.items()
        }

    def to_dict(
        self, fields: Sequence[str] | None = None, digits: int | None = None
    ) -> dict[str, Any]:
        return {
            "from_ms": self.from_ms,
            "to_ms": self.to_ms,
            "step_ms": self.step_ms,
            "source": self.source,
            "series": self.series
            if fields is None and digits is None
            else self.columns(fields, digits),
        }


class MetricStore:
    """Writes and reads series through one engine; safe to share between threads."""

    def __init__(
        self,
        engine: Engine,
        *,
        raw_retention_ms: int = DAY_MS,
        rollup_retention_ms: int = 30 * DAY_MS,
        copy: bool | None = None,
    ) -> None:
        """``copy``: write points with PostgreSQL's COPY (the default there); ``False`` writes
        them with a multi-row INSERT, as on SQLite (the ingest bench compares the two)."""
        if copy and engine.dialect.name != "postgresql":
            raise ValueError(f"COPY is PostgreSQL's; this database is {engine.dialect.name}.")
        self.engine = engine
        self.raw_retention_ms = raw_retention_ms
        self.rollup_retention_ms = rollup_retention_ms
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._rolled_until: tuple[float, int] = (0.0, 0)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._copy = engine.dialect.name == "postgresql" if copy is None else copy

    # -- series ---------------------------------------------------------------------------
    def series_ids(
        self, conn: Connection, owner: str, names: Iterable[str], *, cache_new: bool = True
    ) -> dict[str, int]:
        """Ids of the named series of an owner, creating the missing ones.

        Ids created inside a caller's transaction are not cached (``cache_new=False``): if
        that transaction rolls back they do not exist, and the next write looks them up again.
        """
        wanted = set(names)
        found = {n: self._ids[(owner, n)] for n in wanted if (owner, n) in self._ids}
        missing = wanted - found.keys()
        if missing:
            table = _SERIES
            rows = [{"owner": owner, "name": n} for n in sorted(missing)]
            if self._is_sqlite:
                conn.execute(sqlite_dialect.insert(table).on_conflict_do_nothing(), rows)
            else:
                conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
            for sid, name in conn.execute(
                sa.select(MetricSeries.id, MetricSeries.name).where(
                    MetricSeries.owner == owner, MetricSeries.name.in_(missing)
                )
            ):
                found[name] = sid
            if cache_new:
                with self._lock:
                    for name in missing:
                        self._ids[(owner, name)] = found[name]
        return found

    def existing_series(self, conn: Connection, owner: str) -> dict[str, int]:
        return {
            name: sid
            for sid, name in conn.execute(
                sa.select(MetricSeries.id, MetricSeries.name).where(MetricSeries.owner == owner)
            )
        }

    def forget_owner(self, owner: str, *, conn: Connection | None = None) -> None:
        """Delete an owner's series, points and rollups (a target or deployment was deleted).

        With ``conn`` the deletes join the caller's transaction.
        """
        if conn is None:
            with self.engine.begin() as own:
                self._forget(own, owner)
        else:
            self._forget(conn, owner)
        with self._lock:
            for key in [k for k in self._ids if k[0] == owner]:
                del self._ids[key]

    def _forget(self, conn: Connection, owner: str) -> None:
        ids = list(self.existing_series(conn, owner).values())
        for chunk in _chunks(ids):
            conn.execute(sa.delete(MetricPoint).where(MetricPoint.series_id.in_(chunk)))
            conn.execute(sa.delete(MetricRollup).where(MetricRollup.series_id.in_(chunk)))
            conn.execute(sa.delete(MetricSeries).where(MetricSeries.id.in_(chunk)))

    # -- writes ---------------------------------------------------------------------------
    def write(
        self,
        owner: str,
        samples: Iterable[tuple[int, Mapping[str, float]]],
        *,
        conn: Connection | None = None,
    ) -> int:
        """Store ``(ts_ms, {name: value})`` samples; non-finite values are skipped.

        With ``conn`` the points join the caller's transaction (SQLite has one writer: a second
        connection would wait for the caller's own lock). Returns the number of points written.
        """
        materialised = [(int(ts), values) for ts, values in samples]
        if not materialised:
            return 0
        if conn is not None:
            return self._write(conn, owner, materialised, cache_new=False)
        with self.engine.begin() as own:
            return self._write(own, owner, materialised, cache_new=True)

    def _write(
        self,
        conn: Connection,
        owner: str,
        materialised: list[tuple[int, Mapping[str, float]]],
        *,
        cache_new: bool,
    ) -> int:
        names: set[str] = set()
        for _, values in materialised:
            names.update(values)
        ids = self.series_ids(conn, owner, names, cache_new=cache_new)
        rows: dict[tuple[int, int], float] = {}
        for ts, values in materialised:
            for name, value in values.items():
                v = float(value)
                if math.isfinite(v):
                    rows[(ids[name], ts)] = v
        if not rows:
            return 0
        if self._copy:
            _copy_upsert(conn, rows)
        else:
            payload = [{"series_id": s, "ts_ms": t, "value": v} for (s, t), v in rows.items()]
            conn.execute(self._upsert(), payload)
        oldest = min(ts for ts, _ in materialised)
        if oldest < self._cached_rolled_until(conn):
            self._mark_dirty(conn, oldest)
        return len(rows)

    def _upsert(self) -> Any:
        table = _POINTS
        if self._is_sqlite:
            return sa.insert(table).prefix_with("OR REPLACE")
        stmt = postgresql.insert(table)
        return stmt.on_conflict_do_update(
            index_elements=["series_id", "ts_ms"], set_={"value": stmt.excluded.value}
        )

    def _state(self, conn: Connection) -> tuple[int, int | None]:
        row = conn.execute(
            sa.select(MetricRollupState.rolled_until_ms, MetricRollupState.dirty_from_ms).where(
                MetricRollupState.id == 1
            )
        ).first()
        if row is None:
            if self._is_sqlite:
                ins: Any = sqlite_dialect.insert(_STATE)
            else:
                ins = postgresql.insert(_STATE)
            conn.execute(
                ins.on_conflict_do_nothing(), {"id": 1, "rolled_until_ms": 0, "dirty_from_ms": None}
            )
            return 0, None
        return int(row[0]), (int(row[1]) if row[1] is not None else None)

    def _cached_rolled_until(self, conn: Connection) -> int:
        # Refreshed every few seconds; the rollup also recomputes a slack of recent minutes,
        # so a stale value here costs nothing but a redundant dirty mark.
        fetched_at, value = self._rolled_until
        if time.monotonic() - fetched_at > 5.0:
            value = self._state(conn)[0]
            self._rolled_until = (time.monotonic(), value)
        return value

    def _mark_dirty(self, conn: Connection, ts_ms: int) -> None:
        self._state(conn)
        minute = ts_ms // MINUTE_MS * MINUTE_MS
        conn.execute(
            sa.update(MetricRollupState)
            .where(MetricRollupState.id == 1)
            .values(
                dirty_from_ms=sa.case(
                    (MetricRollupState.dirty_from_ms.is_(None), minute),
                    else_=sa.func.min(MetricRollupState.dirty_from_ms, minute)
                    if self._is_sqlite
                    else sa.func.least(MetricRollupState.dirty_from_ms, minute),
                )
            )
        )

    # -- rollups and retention ------------------------------------------------------------
    def rollup(self, now: int | None = None) -> int:
        """Roll every ended minute up (and the dirty ones again); returns minutes rolled."""
        now = now_ms() if now is None else now
        end = now // MINUTE_MS * MINUTE_MS
        with self.engine.connect() as probe:
            if probe.scalar(sa.select(MetricPoint.series_id).limit(1)) is None:
                return 0  # nothing stored: no write transaction at all
        with self.engine.begin() as conn:
            rolled_until, dirty_from = self._state(conn)
            start = rolled_until - _LATE_SLACK_MS if rolled_until else self._first_point(conn)
            if start is None:
                return 0
            if dirty_from is not None:
                start = min(start, dirty_from)
            start = max(start // MINUTE_MS * MINUTE_MS, end - self.raw_retention_ms)
            if start >= end:
                return 0
            ids = [sid for (sid,) in conn.execute(sa.select(MetricSeries.id))]
            bucket = (MetricPoint.ts_ms // MINUTE_MS) * MINUTE_MS
            for chunk in _chunks(ids):
                conn.execute(
                    sa.delete(MetricRollup).where(
                        MetricRollup.series_id.in_(chunk),
                        MetricRollup.bucket_ms >= start,
                        MetricRollup.bucket_ms < end,
                    )
                )
                select = (
                    sa.select(
                        MetricPoint.series_id,
                        bucket.label("bucket_ms"),
                        sa.func.count(),
                        sa.func.sum(MetricPoint.value),
                        sa.func.min(MetricPoint.value),
                        sa.func.max(MetricPoint.value),
                    )
                    .where(
                        MetricPoint.series_id.in_(chunk),
                        MetricPoint.ts_ms >= start,
                        MetricPoint.ts_ms < end,
                    )
                    .group_by(MetricPoint.series_id, bucket)
                )
                conn.execute(
                    sa.insert(MetricRollup).from_select(
                        ["series_id", "bucket_ms", "count", "sum", "min", "max"], select
                    )
                )
            conn.execute(
                sa.update(MetricRollupState)
                .where(MetricRollupState.id == 1)
                .values(rolled_until_ms=end, dirty_from_ms=None)
            )
        self._rolled_until = (time.monotonic(), end)
        return (end - start) // MINUTE_MS

    def _first_point(self, conn: Connection) -> int | None:
        value = conn.scalar(sa.select(sa.func.min(MetricPoint.ts_ms)))
        return int(value) if value is not None else None

    def apply_retention(self, now: int | None = None) -> dict[str, int]:
        """Delete raw points and rollups past their retention; returns rows deleted."""
        now = now_ms() if now is None else now
        raw_cutoff = now - self.raw_retention_ms
        rollup_cutoff = now - self.rollup_retention_ms
        deleted = {"points": 0, "rollups": 0}
        with self.engine.begin() as conn:
            ids = [sid for (sid,) in conn.execute(sa.select(MetricSeries.id))]
            for chunk in _chunks(ids):
                deleted["points"] += conn.execute(
                    sa.delete(MetricPoint).where(
                        MetricPoint.series_id.in_(chunk), MetricPoint.ts_ms < raw_cutoff
                    )
                ).rowcount
                deleted["rollups"] += conn.execute(
                    sa.delete(MetricRollup).where(
                        MetricRollup.series_id.in_(chunk), MetricRollup.bucket_ms < rollup_cutoff
                    )
                ).rowcount
        return deleted

    # -- reads ----------------------------------------------------------------------------
    def query(
        self,
        owner: str,
        *,
        from_ms: int,
        to_ms: int,
        step_ms: int = 0,
        names: Sequence[str] | None = None,
    ) -> QueryResult:
        """Points of an owner's series in ``[from_ms, to_ms]``, bucketed by ``step_ms``.

        ``step_ms`` 0 returns raw points (avg = min = max = the value, count 1). A name in
        ``names`` that ends with ``*`` stands for every series that starts with the rest.
        """
        with self.engine.connect() as conn:
            ids = self.existing_series(conn, owner)
            if names is not None:
                ids = {n: i for n, i in ids.items() if _wanted(n, names)}
            by_id = {sid: name for name, sid in ids.items()}
            out: dict[str, dict[str, list[float]]] = {
                n: {"t": [], "avg": [], "min": [], "max": [], "count": []} for n in ids
            }
            if not ids:
                return QueryResult(from_ms, to_ms, step_ms, "raw", out)
            source = "raw"
            raw_from = from_ms
            if step_ms >= MINUTE_MS and step_ms % MINUTE_MS == 0:
                rolled_until = self._state(conn)[0]
                if rolled_until > from_ms:
                    source = "rollup+raw" if rolled_until <= to_ms else "rollup"
                    raw_from = rolled_until
                    self._read_rollups(
                        conn, by_id, from_ms, min(to_ms + 1, rolled_until), step_ms, out
                    )
            if raw_from <= to_ms:
                self._read_raw(conn, by_id, raw_from, to_ms, step_ms, out)
        return QueryResult(from_ms, to_ms, step_ms, source, out)

    def _read_raw(
        self,
        conn: Connection,
        by_id: dict[int, str],
        from_ms: int,
        to_ms: int,
        step_ms: int,
        out: dict[str, dict[str, list[float]]],
    ) -> None:
        for chunk in _chunks(list(by_id)):
            where = (
                MetricPoint.series_id.in_(chunk),
                MetricPoint.ts_ms >= from_ms,
                MetricPoint.ts_ms <= to_ms,
            )
            if step_ms <= 0:
                stmt: Any = (
                    sa.select(MetricPoint.series_id, MetricPoint.ts_ms, MetricPoint.value)
                    .where(*where)
                    .order_by(MetricPoint.series_id, MetricPoint.ts_ms)
                )
                for sid, ts, value in conn.execute(stmt):
                    _append(out[by_id[sid]], ts, value, value, value, 1)
                continue
            bucket = (MetricPoint.ts_ms // step_ms) * step_ms
            stmt = (
                sa.select(
                    MetricPoint.series_id,
                    bucket,
                    sa.func.avg(MetricPoint.value),
                    sa.func.min(MetricPoint.value),
                    sa.func.max(MetricPoint.value),
                    sa.func.count(),
                )
                .where(*where)
                .group_by(MetricPoint.series_id, bucket)
                .order_by(MetricPoint.series_id, bucket)
            )
            for sid, ts, avg, lo, hi, count in conn.execute(stmt):
                _append(out[by_id[sid]], ts, avg, lo, hi, count)

    def _read_rollups(
        self,
        conn: Connection,
        by_id: dict[int, str],
        from_ms: int,
        to_ms: int,
        step_ms: int,
        out: dict[str, dict[str, list[float]]],
    ) -> None:
        bucket = (MetricRollup.bucket_ms // step_ms) * step_ms
        for chunk in _chunks(list(by_id)):
            stmt = (
                sa.select(
                    MetricRollup.series_id,
                    bucket,
                    sa.func.sum(MetricRollup.sum),
                    sa.func.min(MetricRollup.min),
                    sa.func.max(MetricRollup.max),
                    sa.func.sum(MetricRollup.count),
                )
                .where(
                    MetricRollup.series_id.in_(chunk),
                    MetricRollup.bucket_ms >= from_ms // step_ms * step_ms,
                    MetricRollup.bucket_ms < to_ms,
                )
                .group_by(MetricRollup.series_id, bucket)
                .order_by(MetricRollup.series_id, bucket)
            )
            for sid, ts, total, lo, hi, count in conn.execute(stmt):
                _append(out[by_id[sid]], ts, total / count if count else math.nan, lo, hi, count)

    def samples_between(
        self, owner: str, after_ms: int, to_ms: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Raw samples ``(ts_ms, {name: value})`` with ``after_ms < ts <= to_ms``, in time order."""
        result = self.query(owner, from_ms=after_ms + 1, to_ms=to_ms, step_ms=0)
        grouped: dict[int, dict[str, float]] = {}
        for name, cols in result.series.items():
            for ts, value in zip(cols["t"], cols["avg"], strict=True):
                grouped.setdefault(int(ts), {})[name] = value
        return sorted(grouped.items())


# PostgreSQL's COPY cannot upsert, so a batch is copied into a temporary table of the
# connection and moved from there with one INSERT .. ON CONFLICT. ON COMMIT DELETE ROWS
# empties it at commit (PostgreSQL skips that in transactions that touched no temporary
# table); the DELETE .. RETURNING empties it at once, for a caller writing twice in one
# transaction. CREATE .. IF NOT EXISTS runs every time: a table created in a transaction that
# rolled back is gone, and a flag kept beside the connection would not know.
_COPY_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS metric_points_in "
    "(series_id integer, ts_ms bigint, value double precision) ON COMMIT DELETE ROWS"
)
_COPY_IN = "COPY metric_points_in (series_id, ts_ms, value) FROM STDIN (FORMAT BINARY)"
_COPY_MOVE = (
    "WITH batch AS (DELETE FROM metric_points_in RETURNING series_id, ts_ms, value) "
    "INSERT INTO metric_points (series_id, ts_ms, value) "
    "SELECT series_id, ts_ms, value FROM batch "
    "ON CONFLICT (series_id, ts_ms) DO UPDATE SET value = excluded.value"
)


def _copy_upsert(conn: Connection, rows: Mapping[tuple[int, int], float]) -> None:
    """Upsert ``{(series_id, ts_ms): value}`` on PostgreSQL through COPY, in ``conn``'s
    transaction (the psycopg connection under it; the keys are unique, so no row is hit twice)."""
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(_COPY_STAGE)
        with cursor.copy(_COPY_IN) as copy:
            copy.set_types(["int4", "int8", "float8"])
            for (series_id, ts_ms), value in rows.items():
                copy.write_row((series_id, ts_ms, value))
        cursor.execute(_COPY_MOVE)


def _append(
    target: dict[str, list[float]], ts: Any, avg: Any, lo: Any, hi: Any, count: Any
) -> None:
    target["t"].append(int(ts))
    target["avg"].append(float(avg))
    target["min"].append(float(lo))
    target["max"].append(float(hi))
    target["count"].append(int(count))


def _round(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _wanted(name: str, names: Sequence[str]) -> bool:
    return any(
        name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern
        for pattern in names
    )


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _IN_CHUNK):
        yield ids[i : i + _IN_CHUNK]

"""Query profiling and index advice.

A listener on the engine times every statement and keeps, per normalised statement, the
count, total and worst time and the last parameters. ``report()`` ranks statements by total
time and, for the top SELECTs, asks the database for its plan (``EXPLAIN QUERY PLAN`` on
SQLite, ``EXPLAIN`` on PostgreSQL) and turns full scans and temporary sorts into concrete
index suggestions from the statement's own WHERE and ORDER BY columns.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

MAX_STATEMENTS = 500
_IN_LIST = re.compile(r"\((?:\s*(?:\?|%\(\w+\)s|\$\d+)\s*,)+\s*(?:\?|%\(\w+\)s|\$\d+)\s*\)")
_WHERE = re.compile(
    r"\bWHERE\b(.*?)(?:\bGROUP BY\b|\bORDER BY\b|\bLIMIT\b|\bRETURNING\b|$)", re.S | re.I
)
_ORDER = re.compile(r"\bORDER BY\b(.*?)(?:\bLIMIT\b|\bOFFSET\b|$)", re.S | re.I)
_COLUMN = re.compile(r"\b(\w+)\.(\w+)\s*(?:=|<|>|IN\b|LIKE\b|IS\b|BETWEEN\b)", re.I)
_ORDER_COLUMN = re.compile(r"\b(\w+)\.(\w+)")
_SQLITE_SCAN = re.compile(r"^SCAN (\w+)\b(?! USING)", re.I)
_PG_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)", re.I)


def normalise(statement: str) -> str:
    return _IN_LIST.sub("(?...)", " ".join(statement.split()))


@dataclass
class StatementStats:
    statement: str
    count: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0
    last_parameters: Any = field(default=None, repr=False)

    @property
    def mean_ms(self) -> float:
        return 1000 * self.total_seconds / self.count if self.count else 0.0


class QueryProfiler:
    """Per-engine statement statistics; cheap enough to stay on."""

    def __init__(self) -> None:
        self._stats: dict[str, StatementStats] = {}
        self._lock = threading.Lock()

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        conn.info.setdefault("modelyard_query_start", []).append(time.perf_counter())

    def _after(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        starts = conn.info.get("modelyard_query_start")
        if not starts:
            return
        elapsed = time.perf_counter() - starts.pop()
        key = normalise(statement)
        with self._lock:
            stats = self._stats.get(key)
            if stats is None:
                if len(self._stats) >= MAX_STATEMENTS:
                    return
                stats = self._stats[key] = StatementStats(key)
            stats.count += 1
            stats.total_seconds += elapsed
            stats.max_seconds = max(stats.max_seconds, elapsed)
            if not executemany:
                stats.last_parameters = (statement, parameters)

    def reset(self) -> None:
        with self._lock:
            self._stats.clear()

    def top(self, limit: int) -> list[StatementStats]:
        with self._lock:
            ranked = sorted(self._stats.values(), key=lambda s: s.total_seconds, reverse=True)
        return ranked[:limit]

    def report(self, engine: Engine, limit: int = 20, explain: int = 10) -> list[dict[str, Any]]:
        rows = []
        for rank, stats in enumerate(self.top(limit)):
            row: dict[str, Any] = {
                "statement": stats.statement,
                "count": stats.count,
                "total_ms": round(stats.total_seconds * 1000, 3),
                "mean_ms": round(stats.mean_ms, 4),
                "max_ms": round(stats.max_seconds * 1000, 3),
                "plan": [],
                "advice": [],
            }
            if (
                rank < explain
                and stats.statement.lstrip().upper().startswith("SELECT")
                and stats.last_parameters
            ):
                raw, parameters = stats.last_parameters
                row["plan"] = explain_plan(engine, raw, parameters)
                row["advice"] = advise(stats.statement, row["plan"], engine.dialect.name)
            rows.append(row)
        return rows


def explain_plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    try:
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(prefix + statement, parameters)
                result = cursor.fetchall()
            finally:
                cursor.close()
            conn.rollback()
    except Exception as exc:  # a plan is advice; never let it break the report
        return [f"(no plan: {type(exc).__name__})"]
    if engine.dialect.name == "sqlite":
        return [str(row[-1]) for row in result]
    return [str(row[0]) for row in result]


def _where_columns(statement: str, table: str) -> list[str]:
    where = _WHERE.search(statement)
    if not where:
        return []
    seen: list[str] = []
    for owner, column in _COLUMN.findall(where.group(1)):
        if owner == table and column not in seen:
            seen.append(column)
    return seen


def _order_columns(statement: str, table: str) -> list[str]:
    order = _ORDER.search(statement)
    if not order:
        return []
    return [c for owner, c in _ORDER_COLUMN.findall(order.group(1)) if owner == table]


def advise(statement: str, plan: list[str], dialect: str) -> list[str]:
    advice = []
    scanned: list[str] = []
    for line in plan:
        match = (
            _SQLITE_SCAN.search(line.strip()) if dialect == "sqlite" else _PG_SEQ_SCAN.search(line)
        )
        if match:
            scanned.append(match.group(1))
    for table in dict.fromkeys(scanned):
        columns = _where_columns(statement, table) + [
            c for c in _order_columns(statement, table) if c not in _where_columns(statement, table)
        ]
        if columns:
            advice.append(
                f"Full scan of {table}: an index on {table}({', '.join(columns)}) would let the "
                f"database seek instead (CREATE INDEX ix_{table}_{'_'.join(columns)} ON {table} ({', '.join(columns)}))."
            )
        else:
            advice.append(
                f"Full scan of {table} with no filter on it: fine for small tables; page or filter it if it grows."
            )
    if any("TEMP B-TREE FOR ORDER BY" in line.upper() for line in plan):
        advice.append(
            "The rows are sorted in a temporary B-tree: an index that ends with the ORDER BY columns avoids the sort."
        )
    return advice


def table_sizes(engine: Engine) -> dict[str, int]:
    sizes = {}
    with engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            sizes[name] = conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
    return sizes

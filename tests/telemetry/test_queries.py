from __future__ import annotations

import sqlalchemy as sa

from modelyard.telemetry._queries import QueryProfiler, advise, normalise
from tests.conftest import Api


def test_in_lists_are_folded() -> None:
    assert (
        normalise("SELECT a FROM t WHERE id IN (?, ?, ?)") == "SELECT a FROM t WHERE id IN (?...)"
    )


def test_full_scan_on_unindexed_filter_gets_an_index_suggestion(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'q.db'}")
    profiler = QueryProfiler()
    profiler.attach(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (id INTEGER PRIMARY KEY, owner TEXT, score REAL)"))
        conn.execute(sa.text("INSERT INTO runs (owner, score) VALUES ('a', 1), ('b', 2)"))
    with engine.connect() as conn:
        for _ in range(3):
            conn.execute(sa.text("SELECT runs.id FROM runs WHERE runs.owner = :o"), {"o": "a"})
        conn.execute(sa.text("SELECT runs.owner FROM runs WHERE runs.id = :i"), {"i": 1})
    report = {row["statement"]: row for row in profiler.report(engine)}
    scan = report["SELECT runs.id FROM runs WHERE runs.owner = ?"]
    assert scan["count"] == 3
    assert any("SCAN runs" in line for line in scan["plan"])
    assert any("runs(owner)" in advice for advice in scan["advice"])
    seek = report["SELECT runs.owner FROM runs WHERE runs.id = ?"]
    assert seek["advice"] == []


def test_covering_index_scan_is_not_flagged() -> None:
    assert advise("SELECT t.a FROM t", ["SCAN t USING COVERING INDEX ix_t_a"], "sqlite") == []


def test_admin_query_report(admin: Api, viewer: Api) -> None:
    viewer.get("/models", params={"q": "x"})
    assert viewer.get("/admin/queries").status_code == 403
    body = admin.get("/admin/queries", params={"limit": 5}).json()
    assert body["statements"] and "registered_models" in body["table_rows"]

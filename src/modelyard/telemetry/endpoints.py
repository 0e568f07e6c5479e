"""Admin endpoints for looking inside the running server: query profile and index advice."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from modelyard.auth.deps import Admin
from modelyard.kit.errors import NotFound
from modelyard.telemetry._queries import QueryProfiler, table_sizes

router = APIRouter(prefix="/admin", tags=["admin"])


class StatementProfile(BaseModel):
    statement: str = Field(description="The SQL, its values replaced by placeholders.")
    count: int = Field(description="Times it ran since profiling started.")
    total_ms: float = Field(description="Time spent in it, in milliseconds.")
    mean_ms: float = Field(description="Mean time per run, in milliseconds.")
    max_ms: float = Field(description="Longest run, in milliseconds.")
    plan: list[str] = Field(description="The database's query plan, line by line.")
    advice: list[str] = Field(description="Indexes or rewrites that would help, if any.")


class QueryReport(BaseModel):
    statements: list[StatementProfile] = Field(
        description="Statements by total time, slowest first."
    )
    table_rows: dict[str, int] = Field(description="Table -> its row count, for reading the plans.")


def _profiler(request: Request) -> QueryProfiler:
    profiler: QueryProfiler | None = getattr(request.app.state, "query_profiler", None)
    if profiler is None:
        raise NotFound("Query profiling is off; set MODELYARD_PROFILE_QUERIES=true and restart.")
    return profiler


@router.get("/queries", response_model=QueryReport)
def query_report(
    request: Request,
    _: Admin,
    limit: int = Query(20, ge=1, le=200),
    explain: int = Query(
        10, ge=0, le=50, description="Explain the plans of this many top statements."
    ),
) -> dict[str, Any]:
    """Rank SQL statements by total time, with their plans and index advice."""
    engine = request.app.state.db.engine
    return {
        "statements": _profiler(request).report(engine, limit=limit, explain=explain),
        "table_rows": table_sizes(engine),
    }


@router.post("/queries/reset", status_code=204)
def reset_query_report(request: Request, _: Admin) -> None:
    """Forget the statistics gathered so far."""
    _profiler(request).reset()

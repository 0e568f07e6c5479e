"""Drift endpoints: start a check, list, show, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from modelyard.auth.deps import Editor, Viewer
from modelyard.drift import service
from modelyard.drift.schemas import DriftCreate, DriftCreated, DriftOut, DriftPage, DriftStatus
from modelyard.jobs.deps import Jobs
from modelyard.kit.deps import DbSession

router = APIRouter(tags=["drift"])

DriftId = Annotated[int, Path(ge=1, le=2**62, description="The drift check's id.")]


@router.post("/drift", response_model=DriftCreated, status_code=202)
def create_drift_check(
    data: DriftCreate, response: Response, principal: Editor, session: DbSession, jobs: Jobs
) -> DriftCreated:
    """Compare a current dataset with a reference one, column by column, in a background job."""
    out = service.submit(session, data, principal, jobs=jobs)
    response.headers["Location"] = f"/api/drift/{out.id}"
    return out


@router.get("/drift", response_model=DriftPage)
def list_drift_checks(
    _: Viewer,
    session: DbSession,
    dataset: Annotated[
        str | None, Query(max_length=200, description="A dataset id or name (either side).")
    ] = None,
    status: DriftStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> DriftPage:
    """List drift checks, newest first, by dataset or status."""
    return service.list_checks(session, dataset=dataset, status=status, limit=limit, cursor=cursor)


@router.get("/drift/{drift_id:int}", response_model=DriftOut)
def get_drift_check(drift_id: DriftId, _: Viewer, session: DbSession) -> DriftOut:
    """Show a drift check: its status, progress and, once done, every column's verdict."""
    return service.drift_out(service.get(session, drift_id))


@router.post("/drift/{drift_id:int}/cancel", response_model=DriftOut)
def cancel_drift_check(
    drift_id: DriftId, principal: Editor, session: DbSession, jobs: Jobs
) -> DriftOut:
    """Cancel a drift check (a running one stops at its next record batch)."""
    return service.cancel(session, drift_id, principal, jobs=jobs)

"""Report endpoints: generate the weekly report, list reports, download their files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from modelyard.auth.deps import Editor, Viewer
from modelyard.jobs import service as jobs_service
from modelyard.jobs.deps import Jobs
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import NotFound
from modelyard.reports import service
from modelyard.reports.schemas import (
    ReportFormat,
    ReportJob,
    ReportOut,
    ReportPage,
    WeeklyReportRequest,
)
from modelyard.storage import BlobMissing, blob_response

router = APIRouter(prefix="/reports", tags=["reports"])

ReportId = Annotated[int, Path(ge=1, le=2**62)]


@router.post("/weekly", response_model=ReportJob, status_code=202)
def create_weekly_report(
    data: WeeklyReportRequest, response: Response, principal: Editor, session: DbSession, jobs: Jobs
) -> ReportJob:
    """Generate the performance report of a period (default: the last 7 days) as a job."""
    params = {"days": data.days, "end": data.end.isoformat() if data.end else None}
    job = jobs_service.submit(
        session,
        jobs,
        kind="weekly_report",
        params=params,
        priority=data.priority,
        submitted_by=principal,
    )
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return ReportJob(job_id=job.id, status=job.status)


@router.get("", response_model=ReportPage)
def list_reports(
    _: Viewer,
    session: DbSession,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    subject: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> ReportPage:
    """List reports, newest first."""
    return service.list_reports(session, kind=kind, subject=subject, limit=limit, cursor=cursor)


@router.get("/{report_id:int}", response_model=ReportOut)
def get_report(report_id: ReportId, _: Viewer, session: DbSession) -> ReportOut:
    """Show a report's summary and files."""
    return service.out(service.get(session, report_id))


@router.get(
    "/{report_id:int}/{fmt}",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/html": {},
                "image/png": {},
                "application/pdf": {},
            }
        }
    },
)
def get_report_file(
    report_id: ReportId,
    fmt: ReportFormat,
    request: Request,
    _: Viewer,
    session: DbSession,
) -> Response:
    """Download one of a report's files (json, html, png or pdf)."""
    key = service.stored_file(service.get(session, report_id), fmt)
    try:
        return blob_response(
            request.app.state.store,
            key,
            media_type=service.MEDIA_TYPES[fmt],
            headers={
                "Content-Security-Policy": "default-src 'none'; img-src 'self'; "
                "style-src 'unsafe-inline'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )
    except BlobMissing as exc:
        raise NotFound(f"The {fmt} file of report {report_id} is missing from the store.") from exc

"""Jobs endpoints: submit, list, show, cancel, retry, and live progress as Server-Sent Events.

SSE streams (``event: job``, ``data:`` the job as JSON, ``id:`` the job's ``updated_at`` in
microseconds) start with the current state read from the database, then follow live events.
``GET /api/jobs/{id}/events`` ends after the job reaches a terminal status.
``GET /api/jobs/events`` sends every job the caller may see that is queued or running, plus,
on a reconnect with ``Last-Event-ID``, every such job changed since that event; then it
follows. Both re-read the database every few seconds, which covers events a server process
cannot receive (several processes without Redis) and pub/sub messages lost on a reconnect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.responses import Response, StreamingResponse

from modelyard.auth.deps import StreamViewer, Viewer
from modelyard.jobs import repository as repo
from modelyard.jobs import service
from modelyard.jobs._stream import job_stream
from modelyard.jobs.deps import Jobs
from modelyard.jobs.events import JobEvent
from modelyard.jobs.schemas import (
    TERMINAL,
    JobKindOut,
    JobOut,
    JobPage,
    JobStatus,
    JobSubmit,
)
from modelyard.kit.deps import AppDatabase, DbSession
from modelyard.kit.openapi import event_stream

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**62, description="The job's id.")]
SNAPSHOT_LIMIT = 1000
_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)


@router.get("", response_model=JobPage)
def list_jobs(
    principal: Viewer,
    session: DbSession,
    status: Annotated[list[JobStatus], Query(description="Repeat to allow several.")] = [],  # noqa: B006
    kind: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[
        str | None, Query(max_length=64, description="Submitter (admins only).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """List jobs, newest first, one page at a time."""
    return service.list_jobs(
        session,
        principal,
        statuses=[s.value for s in status],
        kind=kind,
        user=user,
        limit=limit,
        cursor=cursor,
    )


@router.post("", response_model=JobOut, status_code=201)
def submit_job(
    data: JobSubmit, response: Response, principal: Viewer, session: DbSession, jobs: Jobs
) -> JobOut:
    """Submit a job of a kind the caller may run."""
    job = service.submit(
        session,
        jobs,
        kind=data.kind,
        params=data.params,
        priority=data.priority,
        submitted_by=principal,
    )
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job


@router.get("/kinds", response_model=list[JobKindOut])
def list_kinds(principal: Viewer) -> list[JobKindOut]:
    """List the job kinds the caller may submit, with their parameter schemas."""
    return service.kinds_for(principal)


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStream(StreamingResponse):
    """``text/event-stream`` written by :func:`job_stream` (batched and coalesced), which
    FastAPI's per-event ``EventSourceResponse`` pipeline cannot do."""

    media_type = "text/event-stream"


_JOB_EVENTS = event_stream(
    "Every job's state as it changes, current states first.",
    "job",
    {"$ref": "#/components/schemas/JobOut"},
)


@router.get("/events", response_class=EventStream, responses=_JOB_EVENTS)
async def all_job_events(
    principal: StreamViewer,
    database: AppDatabase,
    runtime: Jobs,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventStream:
    """Stream progress and state changes of every job the caller may see."""
    owner = None if principal.role.value == "admin" else principal.name
    since = _parse_event_id(last_event_id)

    def visible(event: JobEvent) -> bool:
        return owner is None or event.owner == owner

    def snapshot() -> list[dict[str, Any]]:
        with database.session() as session:
            rows = list(repo.active(session, owner, SNAPSHOT_LIMIT))
            if since is not None:
                rows += repo.changed_since(session, since, owner, SNAPSHOT_LIMIT)
        return [repo.to_dict(r) for r in rows]

    def changed(after: dt.datetime) -> list[dict[str, Any]]:
        with database.session() as session:
            rows = repo.changed_since(session, after, owner, SNAPSHOT_LIMIT)
        return [repo.to_dict(r) for r in rows]

    async def body() -> AsyncIterator[bytes]:
        async with runtime.events.subscribe(visible) as sub:
            async for chunk in job_stream(sub, snapshot, changed, end_on=None, hello="job events"):
                yield chunk

    return EventStream(body(), headers=_SSE_HEADERS)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, principal: Viewer, session: DbSession) -> JobOut:
    """Show a job with its progress, result or error."""
    return service.get(session, job_id, principal)


def _visible_job_id(job_id: JobId, principal: Viewer, database: AppDatabase) -> int:
    # Runs before the stream starts, so an unknown or foreign job is a proper 404.
    with database.session() as session:
        service.get(session, job_id, principal)
    return job_id


@router.get("/{job_id}/events", response_class=EventStream, responses=_JOB_EVENTS)
async def job_events(
    job_id: Annotated[int, Depends(_visible_job_id)],
    database: AppDatabase,
    runtime: Jobs,
    _: StreamViewer,
) -> EventStream:
    """Stream one job's progress and state changes until it ends."""

    def load() -> list[dict[str, Any]]:
        with database.session() as session:
            row = repo.get_row(session, job_id)
        return [repo.to_dict(row)] if row is not None else []

    def changed(after: dt.datetime) -> list[dict[str, Any]]:
        return [s for s in load() if s["updated_at"] > after]

    async def body() -> AsyncIterator[bytes]:
        async with runtime.events.subscribe(lambda event: event.job_id == job_id) as sub:
            async for chunk in job_stream(sub, load, changed, end_on=job_id, hello=f"job {job_id}"):
                yield chunk

    return EventStream(body(), headers=_SSE_HEADERS)


def _parse_event_id(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = int(value.strip())
    except ValueError:
        return None
    try:
        return dt.datetime.fromtimestamp(stamp / 1_000_000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: JobId, principal: Viewer, session: DbSession, jobs: Jobs) -> JobOut:
    """Cancel a job: a queued one never starts, a running one stops at its next checkpoint."""
    return service.cancel(session, jobs, job_id, principal)


@router.post("/{job_id}/retry", response_model=JobOut)
def retry_job(job_id: JobId, principal: Viewer, session: DbSession, jobs: Jobs) -> JobOut:
    """Queue a failed or cancelled job again."""
    return service.retry(session, jobs, job_id, principal)

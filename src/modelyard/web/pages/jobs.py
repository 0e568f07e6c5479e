"""Job pages: the list and one job, kept live by ``static/app.js`` from the jobs SSE streams.

The pages render the current state from ``jobs.service`` (so they read without JavaScript);
the script follows ``GET /api/jobs/events`` (or ``/api/jobs/{id}/events``), moves progress
bars in place and, when a job changes status or appears, re-fetches its server-rendered row
or panel from here. Cancel and retry are CSRF-checked POSTs; ``jobs.service`` decides who may
act on which job (admins: all; others: their own).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Principal, Role
from modelyard.jobs import service as jobs_service
from modelyard.jobs.deps import Jobs
from modelyard.jobs.schemas import PRIORITY_LEVELS, JobOut, JobStatus
from modelyard.kit.deps import DbSession
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormViewer, PageError, PageUser

router = APIRouter()
NAV.append(("Jobs", "/jobs"))

PAGE_SIZE = 50
JobId = Annotated[int, Path(ge=1, le=2**62)]
STATUS_FILTERS = {
    "": "any status",
    "active": "queued or running",
    **{s.value: s.value for s in JobStatus},
}


def _statuses(status: str) -> list[str]:
    if status == "active":
        return [JobStatus.queued.value, JobStatus.running.value]
    return [status] if status in STATUS_FILTERS and status else []


def _can_act(user: Principal, job: JobOut) -> dict[str, bool]:
    # The service has the last word; this only decides which buttons to show.
    mine = user.can(Role.admin) or job.submitted_by == user.name
    active = job.status in (JobStatus.queued, JobStatus.running)
    ended_badly = job.status in (JobStatus.failed, JobStatus.cancelled)
    return {
        "cancel": mine and active and not job.cancel_requested,
        "retry": mine and ended_badly,
    }


@router.get("/jobs")
def job_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    status: Annotated[str, Query(max_length=16)] = "",
    kind: Annotated[str, Query(max_length=64)] = "",
    submitter: Annotated[str, Query(max_length=64)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List jobs, newest first, live."""
    if status not in STATUS_FILTERS:
        status = ""
    page = jobs_service.list_jobs(
        session,
        user,
        statuses=_statuses(status),
        kind=kind.strip() or None,
        user=(submitter.strip() or None) if user.can(Role.admin) else None,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    filters = {
        k: v for k, v in {"status": status, "kind": kind, "submitter": submitter}.items() if v
    }
    context = {
        "jobs": page.items,
        "permissions": {job.id: _can_act(user, job) for job in page.items},
        "status": status,
        "kind": kind,
        "submitter": submitter,
        "status_filters": STATUS_FILTERS,
        "kinds": jobs_service.kinds_for(user),
        "priorities": PRIORITY_LEVELS,
        # New jobs are added live only to an unfiltered first page, where they belong.
        "live_inserts": not filters and cursor is None,
        **pager("/jobs", filters, cursor=cursor or None, back=back, next_cursor=page.next_cursor),
    }
    template = "jobs/_table.html" if is_htmx(request) else "jobs/list.html"
    return render(request, template, context, user=user)


@router.get("/jobs/{job_id}/row")
def job_row(request: Request, job_id: JobId, user: PageUser, session: DbSession) -> Response:
    """One job's table row (what the live list swaps in when a job changes status)."""
    job = jobs_service.get(session, job_id, user)
    return render(request, "jobs/_row.html", {"job": job, "can": _can_act(user, job)}, user=user)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: JobId, user: PageUser, session: DbSession) -> Response:
    """Show a job: progress, parameters, result or error; live while it runs."""
    job = jobs_service.get(session, job_id, user)
    context = {"job": job, "can": _can_act(user, job)}
    template = "jobs/_panel.html" if is_htmx(request) else "jobs/detail.html"
    return render(request, template, context, user=user)


View = Annotated[str, Form(max_length=8, description="row (the list) or panel (a job page)")]


def _after_action(
    request: Request, session: DbSession, job_id: int, user: Principal, view: str, message: str
) -> Response:
    """htmx: the job's re-rendered row or panel; a plain form: back to where it was sent."""
    if not is_htmx(request):
        back = "/jobs" if view == "row" else f"/jobs/{job_id}"
        return RedirectResponse(back, status_code=303, headers=SECURITY_HEADERS)
    job = jobs_service.get(session, job_id, user)
    context = {"job": job, "can": _can_act(user, job), "message": message}
    template = "jobs/_row.html" if view == "row" else "jobs/_panel.html"
    return render(request, template, context, user=user)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    request: Request, job_id: JobId, user: FormViewer, session: DbSession, view: View = "panel"
) -> Response:
    """Cancel a job: a queued one never starts, a running one stops at its next checkpoint."""
    job = jobs_service.cancel(session, request.app.state.jobs, job_id, user)
    message = (
        f"Job {job_id} cancelled."
        if job.status == JobStatus.cancelled
        else f"Job {job_id} will stop at its next checkpoint."
    )
    return _after_action(request, session, job_id, user, view, message)


@router.post("/jobs/{job_id}/retry")
def retry_job(
    request: Request, job_id: JobId, user: FormViewer, session: DbSession, view: View = "panel"
) -> Response:
    """Queue a failed or cancelled job again."""
    jobs_service.retry(session, request.app.state.jobs, job_id, user)
    return _after_action(request, session, job_id, user, view, f"Job {job_id} queued again.")


@router.post("/jobs")
def submit_job(
    user: FormViewer,
    session: DbSession,
    jobs: Jobs,
    kind: Annotated[str, Form(max_length=64)] = "",
    params: Annotated[str, Form(max_length=256 * 1024)] = "",
    priority: Annotated[str, Form(max_length=16)] = "normal",
) -> Response:
    """Submit a job of a kind the user may run, with JSON parameters."""
    try:
        values = json.loads(params) if params.strip() else {}
    except json.JSONDecodeError as exc:
        raise PageError(400, "Invalid input", f"The parameters are not JSON: {exc.msg}.") from exc
    if not isinstance(values, dict):
        raise PageError(400, "Invalid input", "The parameters must be a JSON object.")
    if priority not in PRIORITY_LEVELS:
        raise PageError(400, "Invalid input", "Choose a priority: low, normal, high or urgent.")
    job = jobs_service.submit(
        session, jobs, kind=kind.strip(), params=values, priority=priority, submitted_by=user
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303, headers=SECURITY_HEADERS)

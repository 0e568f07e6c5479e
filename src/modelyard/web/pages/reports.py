"""Report pages: the list of generated reports (with their HTML, PNG and JSON files), the
form that generates the weekly report as a job, and the leaderboard of model versions on a
dataset by a metric.

The files are served by the reports API (``/api/reports/{id}/{format}``), which accepts the
page session for reads. Generating a report is an editor's job submission, like
``POST /api/reports/weekly``; the browser then follows the job on its live page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.analytics import service as analytics_service
from modelyard.analytics.schemas import Leaderboard
from modelyard.datasets import service as datasets_service
from modelyard.evaluations import metrics as metric_rules
from modelyard.jobs import service as jobs_service
from modelyard.jobs.schemas import PRIORITY_LEVELS
from modelyard.kit.deps import DbSession
from modelyard.kit.refs import ascii_int
from modelyard.reports import service as reports_service
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormEditor, PageError, PageUser

router = APIRouter()
NAV.append(("Reports", "/reports"))
NAV.append(("Leaderboard", "/leaderboard"))

PAGE_SIZE = 30
LEADERBOARD_SIZE = 50
DATASET_CHOICES = 200
MAX_DAYS = 92
FILE_ORDER = ("html", "pdf", "png", "json")  # then any other format, by name


@router.get("/reports")
def report_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List reports, newest first, with links to their files."""
    page = reports_service.list_reports(
        session, kind=None, subject=None, limit=PAGE_SIZE, cursor=cursor or None
    )
    context = {
        "reports": page.items,
        "file_order": FILE_ORDER,
        "priorities": PRIORITY_LEVELS,
        "max_days": MAX_DAYS,
        **pager("/reports", {}, cursor=cursor, back=back, next_cursor=page.next_cursor),
    }
    return render(request, "reports/list.html", context, user=user)


@router.post("/reports/weekly")
def generate_weekly_report(
    request: Request,
    user: FormEditor,
    session: DbSession,
    days: Annotated[str, Form(max_length=4)] = "7",
    priority: Annotated[str, Form(max_length=16)] = "normal",
) -> Response:
    """Generate the report of the last days as a job, then follow the job."""
    period = ascii_int(days.strip())
    if period is None or not 1 <= period <= MAX_DAYS:
        raise PageError(400, "Invalid input", f"The period is 1 to {MAX_DAYS} days.")
    if priority not in PRIORITY_LEVELS:
        raise PageError(400, "Invalid input", "Choose a priority: low, normal, high or urgent.")
    job = jobs_service.submit(
        session,
        request.app.state.jobs,
        kind="weekly_report",
        params={"days": period, "end": None},
        priority=priority,
        submitted_by=user,
    )
    url = f"/jobs/{job.id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url, **SECURITY_HEADERS})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _ranking_metrics() -> list[str]:
    return sorted(metric_rules.LOWER_IS_BETTER | metric_rules.HIGHER_IS_BETTER)


@router.get("/leaderboard")
def leaderboard_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    dataset: Annotated[str, Query(max_length=200)] = "",
    metric: Annotated[str, Query(max_length=64)] = "mape",
) -> Response:
    """Rank model versions on a dataset by a metric."""
    datasets = datasets_service.list_datasets(
        session, q=None, limit=DATASET_CHOICES, cursor=None
    ).items
    metrics = _ranking_metrics()
    if metric not in metrics:
        metric = "mape"
    if not dataset and datasets:
        dataset = str(datasets[0].id)
    board: Leaderboard | None = None
    if dataset:
        board = analytics_service.leaderboard(session, dataset, metric, LEADERBOARD_SIZE)
    context = {
        "datasets": datasets,
        "metrics": metrics,
        "dataset": dataset,
        "metric": metric,
        "board": board,
    }
    template = "reports/_leaderboard.html" if is_htmx(request) else "reports/leaderboard.html"
    return render(request, template, context, user=user)

"""Drift pages: the list of drift checks with a form to start one, and one check with its
summary and, per column, the deciding statistic and reference-vs-current histogram.

The histograms are inline SVG drawn from the bin counts the check stored (shares, so
datasets of different sizes compare); the page's CSP forbids inline styles, and SVG
presentation attributes are not styles. A running check's panel re-fetches itself every
two seconds through htmx until it ends.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Principal, Role
from modelyard.datasets import service as datasets_service
from modelyard.drift import service as drift_service
from modelyard.drift.schemas import DriftCreate, DriftOut
from modelyard.kit.deps import DbSession
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormEditor, PageError, PageUser

router = APIRouter()
NAV.append(("Drift", "/drift"))

PAGE_SIZE = 50
DATASET_CHOICES = 200
DriftId = Annotated[int, Path(ge=1, le=2**62)]
CHART_WIDTH, CHART_HEIGHT = 240, 48


def chart(histogram: dict[str, Any] | None) -> dict[str, Any] | None:
    """Paired bars (reference, current) per bin as SVG rectangles, heights by share."""
    if not histogram:
        return None
    reference, current = histogram["reference"], histogram["current"]
    labels = histogram.get("categories") or [
        f"{low:.4g} to {high:.4g}"
        for low, high in zip(histogram["edges"][:-1], histogram["edges"][1:], strict=True)
    ]
    totals = (sum(reference) or 1, sum(current) or 1)
    shares = [(r / totals[0], c / totals[1]) for r, c in zip(reference, current, strict=True)]
    tallest = max((max(pair) for pair in shares), default=0) or 1
    slot = CHART_WIDTH / max(len(shares), 1)
    bar = max(slot / 2 - 0.5, 0.5)
    bars = []
    for index, (label, (r, c)) in enumerate(zip(labels, shares, strict=True)):
        for offset, share, side in ((0.0, r, "reference"), (bar, c, "current")):
            height = share / tallest * (CHART_HEIGHT - 2)
            bars.append(
                {
                    "x": round(index * slot + offset, 2),
                    "y": round(CHART_HEIGHT - height, 2),
                    "width": round(bar, 2),
                    "height": round(height, 2),
                    "side": side,
                    "title": f"{label}: {side} {share:.1%}",
                }
            )
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bars": bars}


def _can_cancel(user: Principal, check: DriftOut) -> bool:
    return (
        check.status in ("queued", "running")
        and user.can(Role.editor)
        and (check.created_by == user.name or user.can(Role.admin))
    )


def _panel_context(user: Principal, check: DriftOut) -> dict[str, Any]:
    return {
        "check": check,
        "charts": {c["name"]: chart(c.get("histogram")) for c in check.results},
        "can_cancel": _can_cancel(user, check),
    }


@router.get("/drift")
def drift_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List drift checks, newest first; editors can start one."""
    page = drift_service.list_checks(
        session, dataset=None, status=None, limit=PAGE_SIZE, cursor=cursor or None
    )
    datasets = datasets_service.list_datasets(
        session, q=None, limit=DATASET_CHOICES, cursor=None
    ).items
    context = {
        "checks": page.items,
        "datasets": datasets,
        **pager("/drift", {}, cursor=cursor or None, back=back, next_cursor=page.next_cursor),
    }
    return render(request, "drift/list.html", context, user=user)


@router.post("/drift")
def start_check(
    request: Request,
    user: FormEditor,
    session: DbSession,
    reference: Annotated[str, Form(max_length=200)],
    current: Annotated[str, Form(max_length=200)],
    columns: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Start a drift check as a job, then show it."""
    if not reference.strip() or not current.strip():
        raise PageError(400, "Invalid input", "Pick a reference and a current dataset.")
    names = [c.strip() for c in columns.split(",") if c.strip()]
    data = DriftCreate(reference=reference.strip(), current=current.strip(), columns=names or None)
    out = drift_service.submit(session, data, user, jobs=request.app.state.jobs)
    url = f"/drift/{out.id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url, **SECURITY_HEADERS})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


@router.get("/drift/{drift_id}")
def drift_page(request: Request, drift_id: DriftId, user: PageUser, session: DbSession) -> Response:
    """Show a drift check: progress, the dataset's verdict, each column's statistic and bars."""
    check = drift_service.drift_out(drift_service.get(session, drift_id))
    template = "drift/_panel.html" if is_htmx(request) else "drift/detail.html"
    return render(request, template, _panel_context(user, check), user=user)


@router.post("/drift/{drift_id}/cancel")
def cancel(request: Request, drift_id: DriftId, user: FormEditor, session: DbSession) -> Response:
    """Cancel a drift check (a running one stops at its next record batch)."""
    check = drift_service.cancel(session, drift_id, user, jobs=request.app.state.jobs)
    if not is_htmx(request):
        return RedirectResponse(f"/drift/{drift_id}", status_code=303, headers=SECURITY_HEADERS)
    context = _panel_context(user, check) | {
        "message": f"Drift check {drift_id} is being cancelled."
    }
    return render(request, "drift/_panel.html", context, user=user)

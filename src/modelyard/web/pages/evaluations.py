"""Evaluation pages: the list (filter, pick several to compare), one evaluation with its
metrics, slices and confusion matrix, and a side-by-side comparison.

A running evaluation's panel re-fetches itself every two seconds through htmx until it ends
(the rendered panel of an ended evaluation no longer asks to be refreshed).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Principal, Role
from modelyard.evaluations import metrics as metric_rules
from modelyard.evaluations import service as evaluations_service
from modelyard.evaluations.schemas import EvaluationOut
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import ProblemError
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormEditor, PageError, PageUser

router = APIRouter()
NAV.append(("Evaluations", "/evaluations"))

PAGE_SIZE = 50
STATUSES = ("", "queued", "running", "succeeded", "failed", "cancelled")
EvaluationId = Annotated[int, Path(ge=1, le=2**62)]


def headline(evaluation: EvaluationOut) -> list[str]:
    return list(metric_rules.HEADLINE.get(evaluation.task, ()))


def _can_cancel(user: Principal, evaluation: EvaluationOut) -> bool:
    return (
        evaluation.status in ("queued", "running")
        and user.can(Role.editor)
        and (evaluation.created_by == user.name or user.can(Role.admin))
    )


@router.get("/evaluations")
def evaluation_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    model: Annotated[str, Query(max_length=300)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List evaluations, newest first, by model and status."""
    context = _list_context(session, model, status, cursor, back)
    template = "evaluations/_table.html" if is_htmx(request) else "evaluations/list.html"
    return render(request, template, context, user=user)


def _list_context(
    session: Session, model: str, status: str, cursor: str | None, back: str
) -> dict[str, Any]:
    if status not in STATUSES:
        status = ""
    page = evaluations_service.list_evaluations(
        session,
        model=model.strip() or None,
        version=None,
        dataset=None,
        status=status or None,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    filters = {k: v for k, v in {"model": model, "status": status}.items() if v}
    columns = list(dict.fromkeys(m for e in page.items for m in headline(e)))
    return {
        "evaluations": page.items,
        "columns": columns,
        "model": model,
        "status": status,
        "statuses": STATUSES,
        "cursor": cursor or "",
        "picked": set(),
        "compare_error": "",
        **pager(
            "/evaluations", filters, cursor=cursor or None, back=back, next_cursor=page.next_cursor
        ),
    }


@router.get("/evaluations/compare")
def compare(
    request: Request,
    user: PageUser,
    session: DbSession,
    ids: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    model: Annotated[str, Query(max_length=300)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Put evaluations side by side, best value of each metric marked."""
    try:
        numbers = [int(part) for value in ids for part in value.split(",") if part.strip()]
        if len(numbers) < 2:
            raise PageError(400, "Pick two or more", "Tick two or more evaluations to compare.")
        comparison = evaluations_service.compare(session, numbers)
    except (ValueError, PageError, ProblemError) as exc:
        # the list again, with the ticks kept and the reason by the Compare button
        code = exc.status_code if isinstance(exc, PageError | ProblemError) else 400
        if code >= 500:
            raise
        detail = (
            exc.detail
            if isinstance(exc, PageError | ProblemError)
            else "Pick evaluations by their numbers."
        )
        if is_htmx(request):  # the list stays as it is; the reason goes by the button
            return render(
                request,
                "evaluations/_compare_error.html",
                {"compare_error": detail},
                user=user,
                status_code=code,
                headers={"HX-Retarget": "#compare-error", "HX-Reswap": "outerHTML"},
            )
        context = _list_context(session, model, status, cursor, "")
        context["picked"] = {v for value in ids for v in value.split(",")}
        context["compare_error"] = detail
        return render(request, "evaluations/list.html", context, user=user, status_code=code)
    if is_htmx(request):
        url = "/evaluations/compare?" + urlencode({"ids": ",".join(map(str, numbers))})
        return Response(status_code=204, headers={"HX-Redirect": url, **SECURITY_HEADERS})
    datasets = {e.dataset.id for e in comparison.evaluations}
    context = {"comparison": comparison, "same_dataset": len(datasets) <= 1}
    return render(request, "evaluations/compare.html", context, user=user)


@router.get("/evaluations/{evaluation_id}")
def evaluation_page(
    request: Request, evaluation_id: EvaluationId, user: PageUser, session: DbSession
) -> Response:
    """Show an evaluation: progress, metrics, slices, confusion matrix, run details."""
    evaluation = evaluations_service.evaluation_out(evaluations_service.get(session, evaluation_id))
    context = {
        "evaluation": evaluation,
        "headline": headline(evaluation),
        "can_cancel": _can_cancel(user, evaluation),
        "direction": metric_rules.direction,
    }
    template = "evaluations/_panel.html" if is_htmx(request) else "evaluations/detail.html"
    return render(request, template, context, user=user)


@router.post("/evaluations/{evaluation_id}/cancel")
def cancel(
    request: Request, evaluation_id: EvaluationId, user: FormEditor, session: DbSession
) -> Response:
    """Cancel an evaluation (a running one stops after its current chunk)."""
    evaluation = evaluations_service.cancel(
        session, evaluation_id, user, jobs=request.app.state.jobs
    )
    if not is_htmx(request):
        return RedirectResponse(
            f"/evaluations/{evaluation_id}", status_code=303, headers=SECURITY_HEADERS
        )
    context = {
        "evaluation": evaluation,
        "headline": headline(evaluation),
        "can_cancel": _can_cancel(user, evaluation),
        "direction": metric_rules.direction,
        "message": f"Evaluation {evaluation_id} is being cancelled.",
    }
    return render(request, "evaluations/_panel.html", context, user=user)

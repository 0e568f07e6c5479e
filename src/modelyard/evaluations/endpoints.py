"""Evaluation endpoints: submit, watch, list, cancel, compare; and a version metric's trend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from modelyard.auth.deps import Editor, Viewer
from modelyard.evaluations import service
from modelyard.evaluations._cached import cached_trend
from modelyard.evaluations.schemas import (
    Comparison,
    EvaluationCreate,
    EvaluationCreated,
    EvaluationOut,
    EvaluationPage,
    EvaluationStatus,
    MetricTrend,
)
from modelyard.jobs.deps import Jobs
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import BadRequest
from modelyard.registry.schemas import MODEL_NAME_PATTERN

router = APIRouter(tags=["evaluations"])

EvaluationId = Annotated[int, Path(ge=1, le=2**62, description="The evaluation's id.")]


@router.post("/evaluations", response_model=EvaluationCreated, status_code=202)
def create_evaluation(
    data: EvaluationCreate,
    request: Request,
    response: Response,
    principal: Editor,
    session: DbSession,
    jobs: Jobs,
) -> EvaluationCreated:
    """Evaluate a model version on a dataset in a background job."""
    out = service.submit(session, data, principal, artifacts=request.app.state.artifacts, jobs=jobs)
    response.headers["Location"] = f"/api/evaluations/{out.id}"
    return out


@router.get("/evaluations", response_model=EvaluationPage)
def list_evaluations(
    _: Viewer,
    session: DbSession,
    model: Annotated[
        str | None, Query(max_length=300, description="`name`, `name/3` or `name@alias`.")
    ] = None,
    version: Annotated[int | None, Query(ge=1, le=999_999_999)] = None,
    dataset: Annotated[
        str | None, Query(max_length=200, description="A dataset id or name.")
    ] = None,
    status: EvaluationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> EvaluationPage:
    """List evaluations, newest first, by model, version, dataset or status."""
    return service.list_evaluations(
        session,
        model=model,
        version=version,
        dataset=dataset,
        status=status,
        limit=limit,
        cursor=cursor,
    )


@router.get("/evaluations/compare", response_model=Comparison)
def compare_evaluations(
    _: Viewer,
    session: DbSession,
    ids: Annotated[
        list[str], Query(max_length=20, description="Evaluation ids: `ids=1,2` or `ids=1&ids=2`.")
    ],
) -> Comparison:
    """Put evaluations' metrics side by side and say which is better on each."""
    try:
        numbers = [int(part) for value in ids for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise BadRequest("`ids` must be evaluation ids, e.g. `ids=3,5`.") from exc
    return service.compare(session, numbers)


@router.get("/evaluations/{evaluation_id:int}", response_model=EvaluationOut)
def get_evaluation(evaluation_id: EvaluationId, _: Viewer, session: DbSession) -> EvaluationOut:
    """Show an evaluation: its status, progress and, once done, its metrics."""
    return service.evaluation_out(service.get(session, evaluation_id))


@router.post("/evaluations/{evaluation_id:int}/cancel", response_model=EvaluationOut)
def cancel_evaluation(
    evaluation_id: EvaluationId, principal: Editor, session: DbSession, jobs: Jobs
) -> EvaluationOut:
    """Cancel an evaluation (a running one stops after its current chunk)."""
    return service.cancel(session, evaluation_id, principal, jobs=jobs)


@router.get("/models/{name}/metrics", response_model=MetricTrend, tags=["models"])
async def metric_trend(
    request: Request,
    name: Annotated[str, Path(pattern=MODEL_NAME_PATTERN)],
    _: Viewer,
    metric: Annotated[str, Query(min_length=1, max_length=64, description="e.g. mape, rmse, f1.")],
    dataset: Annotated[
        str | None, Query(max_length=200, description="A dataset id or name.")
    ] = None,
) -> Response:
    """Show a metric across a model's versions (the latest evaluation per version and dataset)."""
    body = await cached_trend(request.app.state.db, request.app.state.cache, name, metric, dataset)
    return Response(body, media_type="application/json")

"""Evaluations: submit (checked up front), run (the job), read, compare, trend.

A submission is checked before anything is queued: the version resolves, the dataset
exists, the target, slice and every column the model needs are in the dataset, and the
model loads. It then becomes an ``evaluations`` row and a job in one transaction.

Status: the job function moves its evaluation through ``running`` and ends it
``succeeded`` (with metrics), ``failed`` or ``cancelled``. An evaluation whose job ended
without running it (cancelled while queued, a worker that died) is brought in line with the
job's status whenever it is read, so the API always shows one consistent status.

Scores are written back twice: on the evaluation (all metrics) and onto the model version's
``metrics`` as ``<metric>@<dataset name>`` for the headline metrics (mae, rmse, mape, r2 or
accuracy, f1, roc_auc), so the registry shows each version's scores per dataset. The trend
endpoint reads the evaluations, not those keys: the latest succeeded evaluation per version
and dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import JsonValue
from sqlalchemy.orm import Session

from modelyard.auth.schemas import Principal, Role
from modelyard.auth.service import record
from modelyard.datasets import service as datasets_service
from modelyard.datasets.store import DatasetStore
from modelyard.evaluations import _scores
from modelyard.evaluations import metrics as metric_rules
from modelyard.evaluations.schemas import (
    ComparedEvaluation,
    ComparedMetric,
    Comparison,
    DatasetRef,
    EvaluationCreate,
    EvaluationCreated,
    EvaluationOut,
    EvaluationPage,
    MetricTrend,
    TrendPoint,
)
from modelyard.jobs import service as jobs_service
from modelyard.kit.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.kit.time import utcnow
from modelyard.models import Dataset, Evaluation, ModelVersion, RegisteredModel
from modelyard.registry import service as registry_service
from modelyard.registry.artifacts import ArtifactStore
from modelyard.webhooks import service as webhooks

if TYPE_CHECKING:
    from modelyard.evaluations.runner import Outcome, Plan
    from modelyard.flavors import LoadedModel
    from modelyard.jobs.runtime import JobRuntime

ACTIVE = ("queued", "running")
TERMINAL = ("succeeded", "failed", "cancelled")
MAX_COMPARE = 20


# --- shaping -------------------------------------------------------------------------------


def evaluation_out(row: Evaluation) -> EvaluationOut:
    return EvaluationOut.model_validate(_evaluation_fields(row))


def _evaluation_fields(row: Evaluation) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "model": row.model_name,
        "version": row.version,
        "dataset": {"id": row.dataset_id, "name": row.dataset_name},
        "target": row.target,
        "features": row.features,
        "slice_by": row.slice_by,
        "task": row.task,
        "priority": row.priority,
        "job_id": row.job_id,
        "progress": {
            "fraction": row.progress,
            "rows_done": row.rows_done,
            "rows_total": row.rows_total,
        },
        "metrics": row.metrics,
        "details": row.details,
        "error": row.error or None,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


# --- submission ----------------------------------------------------------------------------


def model_for(resolved: registry_service.ResolvedVersion, artifacts: ArtifactStore) -> LoadedModel:
    from modelyard.flavors import load_model  # numpy: with the first model loaded

    path = artifacts.open(resolved.artifact_sha256) if resolved.artifact_sha256 else None
    return load_model(
        resolved.flavor, resolved.parameters, path, artifact_sha256=resolved.artifact_sha256
    )


def resolve_inputs(
    model: LoadedModel, mapping: dict[str, str], columns: Iterable[str]
) -> dict[str, str]:
    """Model feature -> dataset column; 422 naming every column the dataset lacks."""
    available = set(columns)
    known = set(model.features) | set(model.optional_features)
    unknown = sorted(set(mapping) - known)
    if unknown and not model.optional_features:
        raise Unprocessable(
            f"`features` maps {', '.join(repr(u) for u in unknown)}, which the model does not take; "
            f"its inputs are {', '.join(model.features) or 'none'}."
        )
    inputs: dict[str, str] = {}
    missing: list[str] = []
    for feature in model.features:
        column = mapping.get(feature, feature)
        if column not in available:
            missing.append(column if column == feature else f"{column} (for feature '{feature}')")
        inputs[feature] = column
    if missing:
        raise Unprocessable(
            f"The dataset has no column {', '.join(repr(m) for m in missing)}, which the model needs; "
            "map the model's features to the dataset's columns with `features`.",
            extra={"missing_columns": missing},
        )
    for feature in sorted(model.optional_features):
        column = mapping.get(feature, feature)
        if column in available:
            inputs[feature] = column
    return inputs


_NUMERIC_TYPES = ("int", "uint", "float", "double", "halffloat", "decimal", "bool", "null")


def _is_numeric(arrow_type: str) -> bool:
    return arrow_type.startswith(_NUMERIC_TYPES)


def submit(
    session: Session,
    data: EvaluationCreate,
    principal: Principal,
    *,
    artifacts: ArtifactStore,
    jobs: JobRuntime,
) -> EvaluationCreated:
    resolved = registry_service.resolve(session, data.model, data.version)
    dataset = datasets_service.get_by_reference(session, data.dataset)
    columns = [c["name"] for c in dataset.columns]
    for what, column in (("target", data.target), ("slice_by", data.slice_by)):
        if column is not None and column not in columns:
            raise Unprocessable(
                f"The dataset '{dataset.name}' has no column '{column}' (the `{what}`); "
                f"its columns are {', '.join(columns[:50])}.",
                extra={"missing_columns": [column]},
            )
    model = model_for(resolved, artifacts)
    inputs = resolve_inputs(model, data.features, columns)
    task = data.task or model.task
    target_type = next(c["type"] for c in dataset.columns if c["name"] == data.target)
    if task == "regression" and not _is_numeric(target_type):
        raise Unprocessable(
            f"The target column '{data.target}' holds {target_type}, but a regression needs numbers; "
            "pick a numeric column, or pass `task: classification` to score labels."
        )
    row = Evaluation(
        model_name=resolved.model,
        version=resolved.version,
        version_id=resolved.version_id,
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        target=data.target,
        features=inputs,
        slice_by=data.slice_by,
        task=task,
        chunk_rows=data.chunk_rows,
        priority=str(data.priority),
        status="queued",
        rows_total=dataset.row_count,
        metrics={},
        details={},
        error="",
        created_by=principal.name,
    )
    session.add(row)
    session.flush()
    job = jobs_service.submit(
        session,
        jobs,
        kind="evaluation",
        params={"evaluation_id": row.id},
        priority=data.priority,
        submitted_by=principal,
    )
    row.job_id = job.id
    session.flush()
    record(
        session,
        principal.name,
        "evaluation.create",
        "evaluation",
        str(row.id),
        model=resolved.model,
        version=resolved.version,
        dataset=dataset.name,
        job=job.id,
    )
    return EvaluationCreated.model_validate(_evaluation_fields(row) | {"job": job})


# --- the job's side ------------------------------------------------------------------------


def start(
    session: Session, evaluation_id: int, job_id: int, *, datasets: DatasetStore
) -> tuple[registry_service.ResolvedVersion, Plan]:
    """Mark the evaluation running; what the job needs to run it."""
    from modelyard.evaluations.runner import Plan  # numpy and pyarrow: jobs only

    row = session.get(Evaluation, evaluation_id)
    if row is None:
        raise NotFound(f"No evaluation {evaluation_id}.")
    if row.job_id != job_id:
        raise Conflict(
            f"Evaluation {evaluation_id} belongs to job {row.job_id}, not to job {job_id}."
        )
    if row.version_id is None:
        raise NotFound(f"Version {row.version} of model '{row.model_name}' was deleted.")
    if row.dataset_id is None:
        raise NotFound(f"Dataset '{row.dataset_name}' was deleted.")
    version = session.get(ModelVersion, row.version_id)
    dataset = session.get(Dataset, row.dataset_id)
    assert version is not None and dataset is not None
    resolved = registry_service.ResolvedVersion(
        model=row.model_name,
        version=row.version,
        version_id=version.id,
        flavor=version.flavor,
        parameters=version.parameters,
        artifact_sha256=version.artifact_sha256,
    )
    plan = Plan(
        source=datasets_service.parquet_blob(datasets, dataset),
        target=row.target,
        inputs=dict(row.features),
        task=row.task,  # type: ignore[arg-type]
        chunk_rows=row.chunk_rows,
        slice_by=row.slice_by,
    )
    row.status = "running"
    row.started_at = utcnow()
    row.finished_at = None
    row.error = ""
    row.progress = 0.0
    row.rows_done = 0
    row.rows_total = dataset.row_count
    session.flush()
    return resolved, plan


def record_progress(session: Session, evaluation_id: int, rows_done: int, rows_total: int) -> None:
    session.execute(
        sa.update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status == "running")
        .values(
            rows_done=rows_done,
            rows_total=rows_total,
            progress=rows_done / rows_total if rows_total else 1.0,
        )
    )


def complete(session: Session, evaluation_id: int, outcome: Outcome) -> None:
    row = session.get(Evaluation, evaluation_id)
    if row is None:
        return
    row.status = "succeeded"
    row.metrics = outcome.metrics
    row.details = outcome.details
    row.rows_done = outcome.rows
    row.progress = 1.0
    row.finished_at = utcnow()
    session.flush()
    _scores.record(session, row)
    headline = {
        f"{name}@{row.dataset_name}": value
        for name in metric_rules.HEADLINE.get(row.task, ())
        if isinstance(value := outcome.metrics.get(name), int | float)
    }
    if headline and row.version_id is not None:
        with suppress(NotFound):  # the version was deleted while it was being evaluated
            registry_service.merge_version_metrics(session, row.version_id, headline)
    _finished(session, row)


def _finished(session: Session, row: Evaluation) -> None:
    """Tell webhooks that ``row`` ended (its details, which can be large, stay here)."""
    document = evaluation_out(row).model_dump(exclude={"details"})
    webhooks.emit(session, "evaluation.finished", document, model=row.model_name)


def record_external(
    session: Session,
    *,
    resolved: registry_service.ResolvedVersion,
    dataset: Dataset,
    target: str,
    y_true: Sequence[float],
    y_pred: Sequence[float],
    details: dict[str, JsonValue],
    actor: str,
) -> EvaluationOut:
    """Store an evaluation whose predictions were made outside a job, e.g. by
    ``modelyard smax validate``, whose ground truth takes hours of db_bench to measure.

    The metrics are computed here, by the same code as a job's, and written back onto the
    version like any other evaluation's.
    """
    import numpy as np

    from modelyard.evaluations.runner import Outcome

    truth = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(y_pred, dtype=np.float64)
    scorer = metric_rules.RegressionMetrics()
    scorer.update(truth, predicted)
    now = utcnow()
    row = Evaluation(
        model_name=resolved.model,
        version=resolved.version,
        version_id=resolved.version_id,
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        target=target,
        features={},
        slice_by=None,
        task="regression",
        chunk_rows=len(truth),
        priority="normal",
        status="running",
        rows_total=len(truth),
        created_by=actor,
        created_at=now,
        started_at=now,
    )
    session.add(row)
    session.flush()
    complete(
        session,
        row.id,
        Outcome(
            rows=len(truth),
            evaluated=len(truth),
            skipped=0,
            seconds=0.0,
            metrics=scorer.result(),
            details=scorer.details() | details,
        ),
    )
    record(
        session,
        actor,
        "evaluation.record",
        "model",
        resolved.model,
        version=resolved.version,
        dataset=dataset.name,
    )
    return evaluation_out(row)


def end(
    session: Session, evaluation_id: int, status: str, error: str, *, rows_done: int | None = None
) -> None:
    """End an evaluation that is still queued or running (``rows_done``: how far it got)."""
    values: dict[str, Any] = {"status": status, "error": error[:4000], "finished_at": utcnow()}
    if rows_done is not None:
        values["rows_done"] = rows_done
        values["progress"] = sa.case(
            (Evaluation.rows_total > 0, sa.cast(rows_done, sa.Float) / Evaluation.rows_total),
            else_=0.0,
        )
    ended = session.execute(
        sa.update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status.in_(ACTIVE))
        .values(**values)
        .returning(Evaluation.id)
    ).first()
    if ended is not None:
        row = session.get(Evaluation, evaluation_id, populate_existing=True)
        if row is not None:
            _finished(session, row)


def requeue(session: Session, evaluation_id: int) -> None:
    """The worker stopped; the job goes back to the queue and so does the evaluation."""
    session.execute(
        sa.update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status == "running")
        .values(status="queued")
    )


# --- reads ---------------------------------------------------------------------------------


def _reconcile(session: Session, rows: list[Evaluation]) -> None:
    """Align evaluations whose job ended without them (cancelled while queued, lost worker)."""
    for row in rows:
        if row.status not in ACTIVE or row.job_id is None:
            continue
        try:
            job = jobs_service.get(session, row.job_id)
        except NotFound:
            row.status, row.error, row.finished_at = "failed", "Its job no longer exists.", utcnow()
            continue
        status = job.status.value
        if status in ("failed", "cancelled"):
            row.status = status
            row.error = row.error or job.error or status
            row.finished_at = row.finished_at or job.finished_at or utcnow()
        elif status == "queued" and row.status == "running":
            row.status = "queued"  # the worker died and the job went back to the queue
    session.flush()


def get(session: Session, evaluation_id: int) -> Evaluation:
    row = session.get(Evaluation, evaluation_id)
    if row is None:
        raise NotFound(f"No evaluation {evaluation_id}; list them with GET /api/evaluations.")
    _reconcile(session, [row])
    return row


def list_evaluations(
    session: Session,
    *,
    model: str | None,
    version: int | None,
    dataset: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> EvaluationPage:
    query = sa.select(Evaluation).order_by(Evaluation.id.desc())
    if model:
        name, selector = registry_service.parse_reference(model)
        query = query.where(Evaluation.model_name == name)
        if selector is not None or version is not None:
            query = query.where(
                Evaluation.version_id
                == registry_service.resolve(session, model, version).version_id
            )
    elif version is not None:
        raise BadRequest("`version` needs `model`.")
    if dataset:
        query = query.where(
            Evaluation.dataset_id == datasets_service.get_by_reference(session, dataset).id
        )
    if status:
        query = query.where(Evaluation.status == status)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(Evaluation.id < below)
    rows, next_cursor = id_page(list(session.scalars(query.limit(limit + 1))), limit)
    _reconcile(session, rows)
    return EvaluationPage(items=[evaluation_out(r) for r in rows], next_cursor=next_cursor)


def cancel(
    session: Session, evaluation_id: int, principal: Principal, *, jobs: JobRuntime
) -> EvaluationOut:
    row = get(session, evaluation_id)
    if row.created_by != principal.name and not principal.can(Role.admin):
        raise Forbidden(
            f"Evaluation {evaluation_id} was started by '{row.created_by}'; only they or an admin may cancel it."
        )
    if row.status not in ACTIVE:
        raise Conflict(f"Evaluation {evaluation_id} has already ended ({row.status}).")
    if row.job_id is not None:
        job = jobs_service.cancel(session, jobs, row.job_id, None)
        if job.status.value == "cancelled":
            end(session, row.id, "cancelled", "cancelled on request")
    record(session, principal.name, "evaluation.cancel", "evaluation", str(row.id))
    session.flush()
    session.refresh(row)
    return evaluation_out(row)


def compare(session: Session, ids: list[int]) -> Comparison:
    if not ids:
        raise BadRequest("Pass the evaluations to compare as `ids=1,2`.")
    if len(ids) > MAX_COMPARE:
        raise BadRequest(f"Compare at most {MAX_COMPARE} evaluations at once.")
    rows = {
        row.id: row for row in session.scalars(sa.select(Evaluation).where(Evaluation.id.in_(ids)))
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"No evaluation {', '.join(map(str, missing))}.")
    ordered = [rows[i] for i in dict.fromkeys(ids)]
    _reconcile(session, ordered)
    names = list(dict.fromkeys(name for row in ordered for name in row.metrics if name != "count"))
    compared = []
    for name in names:
        values = [_number(row.metrics.get(name)) for row in ordered]
        direction = metric_rules.direction(name)
        compared.append(
            ComparedMetric(
                metric=name,
                direction=direction,
                values=values,
                best=_best(direction, [row.id for row in ordered], values),
            )
        )
    return Comparison(
        evaluations=[
            ComparedEvaluation.model_validate(
                {
                    "id": r.id,
                    "model": r.model_name,
                    "version": r.version,
                    "dataset": {"id": r.dataset_id, "name": r.dataset_name},
                    "status": r.status,
                    "task": r.task,
                }
            )
            for r in ordered
        ],
        metrics=compared,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _best(direction: str | None, ids: list[int], values: list[float | None]) -> int | None:
    if direction is None:
        return None
    scored = [
        (v if direction != "zero" else abs(v), i)
        for i, v in zip(ids, values, strict=True)
        if v is not None
    ]
    if len(scored) < 2:
        return None
    scored.sort(reverse=direction == "higher")
    if scored[0][0] == scored[1][0]:
        return None
    return scored[0][1]


def trend(session: Session, model: str, metric: str, dataset: str | None) -> MetricTrend:
    registry_service.get_model(session, model)
    query = (
        sa.select(Evaluation, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == Evaluation.version_id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .where(RegisteredModel.name == model, Evaluation.status == "succeeded")
        .order_by(
            ModelVersion.version,
            Evaluation.dataset_name,
            Evaluation.finished_at.desc(),
            Evaluation.id.desc(),
        )
    )
    if dataset:
        query = query.where(
            Evaluation.dataset_id == datasets_service.get_by_reference(session, dataset).id
        )
    points: list[TrendPoint] = []
    seen: set[tuple[int, str]] = set()
    for row, version in session.execute(query):
        key = (version, row.dataset_name)
        if key in seen:
            continue
        seen.add(key)
        points.append(
            TrendPoint(
                version=version,
                dataset=DatasetRef(id=row.dataset_id, name=row.dataset_name),
                value=_number(row.metrics.get(metric)),
                evaluation_id=row.id,
                evaluated_at=row.finished_at,
            )
        )
    return MetricTrend(
        model=model, metric=metric, direction=metric_rules.direction(metric), points=points
    )

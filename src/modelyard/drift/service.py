"""Drift checks: submit (checked up front), run (the job's side), read, cancel.

A submission is checked before anything is queued: both datasets exist, every requested
column is in both, and each column has the same kind in both (numeric: integers,
floats, decimals; categorical: text and booleans). Only the datasets' recorded schemas are
read, never their files. The check becomes a ``drift_checks`` row and a ``drift`` job in
one transaction.

Status follows the evaluation's pattern: the job moves its check through ``running`` to
``succeeded``, ``failed`` or ``cancelled``; a check whose job ended without running it is
brought in line with the job whenever it is read.

A finished check that says the dataset drifted opens an alert (``alerts.service``, source
``drift``, one open per reference/current pair) that reaches the notification channels; the
next check of the pair that does not drift resolves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import JsonValue
from sqlalchemy.orm import Session

from modelyard.alerts import service as alerts_service
from modelyard.auth.schemas import Principal, Role
from modelyard.auth.service import record
from modelyard.datasets import service as datasets_service
from modelyard.datasets.store import DatasetStore
from modelyard.drift._metrics import SHARE_DRIFTED
from modelyard.drift.schemas import DriftCreate, DriftCreated, DriftOut, DriftPage, DriftSummary
from modelyard.jobs import service as jobs_service
from modelyard.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.kit.time import utcnow
from modelyard.models import Dataset, DriftCheck
from modelyard.storage import ParquetBlob
from modelyard.webhooks import service as webhooks

if TYPE_CHECKING:
    from modelyard.drift.detector import Column, Options
    from modelyard.jobs.runtime import JobRuntime

ACTIVE = ("queued", "running")
_NUMERIC = ("int", "uint", "float", "double", "halffloat", "decimal")
_CATEGORICAL = ("bool", "string", "large_string", "utf8", "large_utf8")


def column_kind(arrow_type: str) -> str | None:
    """``numeric``, ``categorical`` or None (dates, binary, nested and all-null columns)."""
    if arrow_type.startswith(_NUMERIC):
        return "numeric"
    if arrow_type in _CATEGORICAL:
        return "categorical"
    if arrow_type.startswith("dictionary<values="):
        return column_kind(arrow_type.removeprefix("dictionary<values=").split(",", 1)[0])
    return None


# --- shaping -------------------------------------------------------------------------------


def drift_out(row: DriftCheck, *, with_results: bool = True) -> DriftOut:
    return DriftOut.model_validate(_drift_fields(row, with_results=with_results))


def _drift_fields(row: DriftCheck, *, with_results: bool = True) -> dict[str, Any]:
    total = len(row.columns)
    return {
        "id": row.id,
        "status": row.status,
        "reference": {"id": row.reference_id, "name": row.reference_name},
        "current": {"id": row.current_id, "name": row.current_name},
        "columns": row.columns,
        "options": row.options,
        "priority": row.priority,
        "job_id": row.job_id,
        "progress": {
            "fraction": row.progress,
            "columns_done": row.columns_done,
            "columns_total": total,
        },
        "dataset_drifted": row.dataset_drifted,
        "summary": row.summary or None,
        "results": row.results if with_results else [],
        "error": row.error or None,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


# --- submission ----------------------------------------------------------------------------


def resolve_columns(
    reference: Dataset, current: Dataset, requested: list[str] | None
) -> list[dict[str, str]]:
    """The columns to compare with their kind; 422 naming every column that cannot be."""
    reference_types = {c["name"]: c["type"] for c in reference.columns}
    current_types = {c["name"]: c["type"] for c in current.columns}
    if requested is None:
        names = [n for n in reference_types if n in current_types]
        if not names:
            raise Unprocessable(
                f"The datasets '{reference.name}' and '{current.name}' have no column in common."
            )
        names = [
            n
            for n in names
            if column_kind(reference_types[n]) is not None
            or column_kind(current_types[n]) is not None
        ]
        if not names:
            raise Unprocessable(
                f"No column the datasets '{reference.name}' and '{current.name}' share is "
                "numeric or categorical (text, boolean)."
            )
    else:
        names = list(dict.fromkeys(requested))
        for dataset, types in ((reference, reference_types), (current, current_types)):
            missing = [n for n in names if n not in types]
            if missing:
                raise Unprocessable(
                    f"The dataset '{dataset.name}' has no column "
                    f"{', '.join(repr(m) for m in missing)}; its columns are "
                    f"{', '.join(list(types)[:50])}.",
                    extra={"missing_columns": missing, "dataset": dataset.name},
                )
    mismatched: list[str] = []
    unsupported: list[str] = []
    columns: list[dict[str, str]] = []
    for name in names:
        kinds = (column_kind(reference_types[name]), column_kind(current_types[name]))
        if kinds[0] is None or kinds[1] is None:
            unsupported.append(f"'{name}' ({reference_types[name]} / {current_types[name]})")
        elif kinds[0] != kinds[1]:
            mismatched.append(
                f"'{name}' ({reference_types[name]} in '{reference.name}', "
                f"{current_types[name]} in '{current.name}')"
            )
        else:
            columns.append({"name": name, "kind": kinds[0]})
    if mismatched:
        raise Unprocessable(
            f"Column {', '.join(mismatched)} has a different kind of values in the two datasets "
            "(numbers in one, text in the other); leave it out with `columns`.",
            extra={"mismatched_columns": [m.split("'")[1] for m in mismatched]},
        )
    if unsupported:
        raise Unprocessable(
            f"Column {', '.join(unsupported)} is neither numeric nor categorical (text, boolean); "
            "drift is computed for those only; leave it out with `columns`.",
            extra={"unsupported_columns": [u.split("'")[1] for u in unsupported]},
        )
    return columns


def submit(
    session: Session, data: DriftCreate, principal: Principal, *, jobs: JobRuntime
) -> DriftCreated:
    reference = datasets_service.get_by_reference(session, data.reference)
    current = datasets_service.get_by_reference(session, data.current)
    columns = resolve_columns(reference, current, data.columns)
    options = data.model_dump(
        include={
            "numeric_method",
            "categorical_method",
            "column_threshold",
            "drift_share",
            "batch_rows",
        }
    )
    row = DriftCheck(
        reference_id=reference.id,
        reference_name=reference.name,
        current_id=current.id,
        current_name=current.name,
        columns=columns,
        options=options,
        priority=str(data.priority),
        status="queued",
        summary={},
        results=[],
        error="",
        created_by=principal.name,
    )
    session.add(row)
    session.flush()
    job = jobs_service.submit(
        session,
        jobs,
        kind="drift",
        params={"drift_id": row.id},
        priority=data.priority,
        submitted_by=principal,
    )
    row.job_id = job.id
    session.flush()
    record(
        session,
        principal.name,
        "drift.create",
        "drift",
        str(row.id),
        reference=reference.name,
        current=current.name,
        job=job.id,
    )
    return DriftCreated.model_validate(_drift_fields(row) | {"job": job})


# --- the job's side ------------------------------------------------------------------------


def start(
    session: Session, drift_id: int, job_id: int, *, datasets: DatasetStore
) -> tuple[ParquetBlob, ParquetBlob, list[Column], Options]:
    """Mark the check running; the files, columns and options the job compares."""
    from modelyard.drift.detector import Column, Options  # numpy, scipy, pyarrow: jobs only

    row = session.get(DriftCheck, drift_id)
    if row is None:
        raise NotFound(f"No drift check {drift_id}.")
    if row.job_id != job_id:
        raise Conflict(f"Drift check {drift_id} belongs to job {row.job_id}, not to job {job_id}.")
    paths: list[ParquetBlob] = []
    for dataset_id, name in (
        (row.reference_id, row.reference_name),
        (row.current_id, row.current_name),
    ):
        dataset = session.get(Dataset, dataset_id) if dataset_id is not None else None
        if dataset is None:
            raise NotFound(f"Dataset '{name}' was deleted.")
        paths.append(datasets_service.parquet_blob(datasets, dataset))
    row.status = "running"
    row.started_at = utcnow()
    row.finished_at = None
    row.error = ""
    row.progress = 0.0
    row.columns_done = 0
    session.flush()
    columns = [Column(name=c["name"], kind=c["kind"]) for c in row.columns]  # type: ignore[arg-type]
    return paths[0], paths[1], columns, Options(**row.options)


def record_progress(session: Session, drift_id: int, columns_done: int, columns_total: int) -> None:
    session.execute(
        sa.update(DriftCheck)
        .where(DriftCheck.id == drift_id, DriftCheck.status == "running")
        .values(
            columns_done=columns_done,
            progress=columns_done / columns_total if columns_total else 1.0,
        )
    )


def complete(
    session: Session, drift_id: int, results: list[dict[str, JsonValue]], summary: DriftSummary
) -> None:
    """Store a succeeded check's per-column ``results`` and ``summary``."""
    row = session.get(DriftCheck, drift_id)
    if row is None:
        return
    row.status = "succeeded"
    row.results = results
    row.summary = summary.model_dump()
    row.dataset_drifted = summary.dataset_drifted
    row.columns_done = len(row.columns)
    row.progress = 1.0
    row.finished_at = utcnow()
    session.flush()
    drifted = list(summary.drifted)
    SHARE_DRIFTED.labels(row.reference_name, row.current_name).set(summary.share_drifted)
    _alert(session, row, drifted)
    if row.dataset_drifted:
        webhooks.emit(
            session,
            "drift.found",
            {
                "drift_id": row.id,
                "reference": {"id": row.reference_id, "name": row.reference_name},
                "current": {"id": row.current_id, "name": row.current_name},
                "drifted_columns": drifted,
                "columns": len(row.columns),
                "share_drifted": row.summary.get("share_drifted"),
                "drift_share": row.summary.get("drift_share"),
            },
        )


def _alert(session: Session, row: DriftCheck, drifted: list[str]) -> None:
    """Open an alert while the pair's latest check says drifted; a clean check closes it."""
    pair = f"{row.reference_id or row.reference_name}:{row.current_id or row.current_name}"
    key = f"drift:{pair}"
    if not row.dataset_drifted:
        alerts_service.resolve_event(session, key)
        return
    alerts_service.raise_event(
        session,
        source="drift",
        kind="data_drift",
        open_key=key,
        message=(
            f"Dataset {row.current_name} drifted from {row.reference_name}: "
            f"{len(drifted)} of {len(row.columns)} columns ({', '.join(drifted)})."
        ),
        severity="warning",
        subject=row.current_name,
        detail={
            "drift_id": row.id,
            "reference": row.reference_name,
            "current": row.current_name,
            "drifted_columns": drifted,
            "share_drifted": row.summary.get("share_drifted"),
        },
        value=row.summary.get("share_drifted"),
        threshold=row.summary.get("drift_share"),
    )


def end(session: Session, drift_id: int, status: str, error: str) -> None:
    """End a check that is still queued or running."""
    session.execute(
        sa.update(DriftCheck)
        .where(DriftCheck.id == drift_id, DriftCheck.status.in_(ACTIVE))
        .values(status=status, error=error[:4000], finished_at=utcnow())
    )


def requeue(session: Session, drift_id: int) -> None:
    """The worker stopped; the job goes back to the queue and so does the check."""
    session.execute(
        sa.update(DriftCheck)
        .where(DriftCheck.id == drift_id, DriftCheck.status == "running")
        .values(status="queued")
    )


# --- reads ---------------------------------------------------------------------------------


def _reconcile(session: Session, rows: list[DriftCheck]) -> None:
    """Align checks whose job ended without them (cancelled while queued, lost worker)."""
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
            row.status = "queued"
    session.flush()


def get(session: Session, drift_id: int) -> DriftCheck:
    row = session.get(DriftCheck, drift_id)
    if row is None:
        raise NotFound(f"No drift check {drift_id}; list them with GET /api/drift.")
    _reconcile(session, [row])
    return row


def list_checks(
    session: Session,
    *,
    dataset: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> DriftPage:
    query = sa.select(DriftCheck).order_by(DriftCheck.id.desc())
    if dataset:
        dataset_id = datasets_service.get_by_reference(session, dataset).id
        query = query.where(
            sa.or_(DriftCheck.reference_id == dataset_id, DriftCheck.current_id == dataset_id)
        )
    if status:
        query = query.where(DriftCheck.status == status)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(DriftCheck.id < below)
    rows, next_cursor = id_page(list(session.scalars(query.limit(limit + 1))), limit)
    _reconcile(session, rows)
    return DriftPage(
        items=[drift_out(r, with_results=False) for r in rows], next_cursor=next_cursor
    )


def cancel(session: Session, drift_id: int, principal: Principal, *, jobs: JobRuntime) -> DriftOut:
    row = get(session, drift_id)
    if row.created_by != principal.name and not principal.can(Role.admin):
        raise Forbidden(
            f"Drift check {drift_id} was started by '{row.created_by}'; only they or an admin "
            "may cancel it."
        )
    if row.status not in ACTIVE:
        raise Conflict(f"Drift check {drift_id} has already ended ({row.status}).")
    if row.job_id is not None:
        job = jobs_service.cancel(session, jobs, row.job_id, None)
        if job.status.value == "cancelled":
            end(session, row.id, "cancelled", "cancelled on request")
    record(session, principal.name, "drift.cancel", "drift", str(row.id))
    session.flush()
    session.refresh(row)
    return drift_out(row)

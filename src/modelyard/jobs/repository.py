"""Queries on the jobs table. Every transition is one conditional UPDATE, so racing
workers, reapers and cancels settle on exactly one outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.jobs.schemas import JobStatus
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.models import Job

T = cast(sa.Table, Job.__table__)
ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


def to_dict(row: Any) -> dict[str, Any]:
    """A jobs row (ORM object or Core row) as the JobOut-shaped dict sent to clients."""
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "priority": row.priority,
        "params": row.params,
        "attempts": row.attempts,
        "progress": {
            "fraction": row.progress_fraction,
            "phase": row.progress_phase,
            "message": row.progress_message,
            "eta_seconds": row.progress_eta_seconds,
        },
        "result": row.result,
        "error": row.error,
        "submitted_by": row.submitted_by,
        "cancel_requested": row.cancel_requested,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


# The worker's hot path runs prebuilt statements with bind parameters: building an UPDATE
# with 27 RETURNING columns costs more than running it on SQLite.
B = sa.bindparam
_GET = sa.select(T).where(T.c.id == B("job_id"))
_INSERT = sa.insert(T).returning(T.c.id)
_FAIR_RANK = (
    sa.select(sa.func.count())
    .select_from(T)
    .where(
        T.c.submitted_by_id == B("owner"),
        T.c.status.in_(ACTIVE),
        T.c.priority == B("priority"),
        T.c.queue == B("queue"),
    )
)
_CLAIM = (
    sa.update(T)
    .where(
        T.c.id == B("job_id"),
        T.c.queue == B("queue_name"),
        T.c.status == JobStatus.queued.value,
        sa.or_(T.c.run_after.is_(None), T.c.run_after <= B("now")),
    )
    .values(
        status=JobStatus.running.value,
        attempts=T.c.attempts + 1,
        worker=B("worker_id"),
        started_at=B("now"),
        heartbeat_at=B("now"),
        updated_at=B("now"),
        finished_at=None,
        run_after=None,
        progress_fraction=None,
        progress_phase=None,
        progress_message=None,
        progress_eta_seconds=None,
    )
    .returning(*T.c)
)
_OWNED = sa.and_(
    T.c.id == B("job_id"),
    T.c.status == JobStatus.running.value,
    T.c.worker == B("worker_id"),
    T.c.attempts == B("attempt"),
)
_PROGRESS_VALUES: dict[str, Any] = {
    "progress_fraction": B("p_fraction"),
    "progress_phase": B("p_phase"),
    "progress_message": B("p_message"),
    "progress_eta_seconds": B("p_eta"),
}
_WRITE_PROGRESS = (
    sa.update(T)
    .where(_OWNED)
    .values(heartbeat_at=B("now"), updated_at=B("now"), **_PROGRESS_VALUES)
    .returning(T.c.cancel_requested)
)
_BEAT = (
    sa.update(T)
    .where(
        T.c.id.in_(B("ids", expanding=True)),
        T.c.worker == B("worker_id"),
        T.c.status == JobStatus.running.value,
    )
    .values(heartbeat_at=B("now"))
)
_FINISH = (
    sa.update(T)
    .where(_OWNED)
    .values(
        status=B("new_status"),
        result=B("new_result", type_=sa.JSON),
        error=B("new_error"),
        finished_at=B("now"),
        updated_at=B("now"),
        heartbeat_at=None,
        **_PROGRESS_VALUES,
    )
    .returning(*T.c)
)


def _progress_params(progress: dict[str, Any] | None) -> dict[str, Any]:
    progress = progress or {}
    return {
        "p_fraction": progress.get("fraction"),
        "p_phase": progress.get("phase"),
        "p_message": progress.get("message"),
        "p_eta": progress.get("eta_seconds"),
    }


def get_row(session: Session, job_id: int) -> Any | None:
    return session.execute(_GET, {"job_id": job_id}).first()


def insert(session: Session, values: dict[str, Any]) -> int:
    job_id: int = session.execute(_INSERT, values).scalar_one()
    return job_id


def fair_rank(session: Session, queue: str, submitter_id: int | None, priority: int) -> int:
    """How many of this submitter's jobs already wait or run at this priority."""
    if submitter_id is None:
        return 0
    count = session.execute(
        _FAIR_RANK, {"owner": submitter_id, "priority": priority, "queue": queue}
    ).scalar()
    return int(count or 0)


def claim(session: Session, job_id: int, queue: str, worker: str, now: dt.datetime) -> Any | None:
    """queued -> running for this worker, if still queued and due; the row or ``None``."""
    params = {"job_id": job_id, "queue_name": queue, "worker_id": worker, "now": now}
    return session.execute(_CLAIM, params).first()


def _owned(job_id: int, worker: str, attempt: int) -> Any:
    return sa.and_(
        T.c.id == job_id,
        T.c.status == JobStatus.running.value,
        T.c.worker == worker,
        T.c.attempts == attempt,
    )


def write_progress(
    session: Session,
    job_id: int,
    worker: str,
    attempt: int,
    now: dt.datetime,
    progress: dict[str, Any],
) -> tuple[bool, bool]:
    """Store progress and beat; ``(still owned, cancel requested)``."""
    params = {"job_id": job_id, "worker_id": worker, "attempt": attempt, "now": now}
    row = session.execute(_WRITE_PROGRESS, params | _progress_params(progress)).first()
    if row is None:
        return False, False
    return True, bool(row.cancel_requested)


def beat(session: Session, worker: str, job_ids: Iterable[int], now: dt.datetime) -> None:
    ids = list(job_ids)
    if ids:
        session.execute(_BEAT, {"ids": ids, "worker_id": worker, "now": now})


def finish(
    session: Session,
    job_id: int,
    worker: str,
    attempt: int,
    now: dt.datetime,
    *,
    status: JobStatus,
    result: Any = None,
    error: str | None = None,
    progress: dict[str, Any] | None = None,
) -> Any | None:
    """running -> a terminal status, if this worker still owns the attempt; the row."""
    params = {
        "job_id": job_id,
        "worker_id": worker,
        "attempt": attempt,
        "now": now,
        "new_status": status.value,
        "new_result": result,
        "new_error": error,
    }
    return session.execute(_FINISH, params | _progress_params(progress)).first()


def requeue(
    session: Session,
    job_id: int,
    now: dt.datetime,
    *,
    condition: Any,
    run_after: dt.datetime | None,
    error: str | None,
    spend_retry: bool,
    fair_rank: int | None = None,
) -> Any | None:
    """running -> queued (retry, crash recovery or shutdown); the row."""
    values: dict[str, Any] = {
        "status": JobStatus.queued.value,
        "worker": None,
        "heartbeat_at": None,
        "run_after": run_after,
        "updated_at": now,
        "error": error,
        **_progress_values(None),
    }
    if spend_retry:
        values["retries_left"] = T.c.retries_left - 1
    if fair_rank is not None:
        values["fair_rank"] = fair_rank
    stmt = sa.update(T).where(condition).values(**values).returning(*T.c)
    return session.execute(stmt).first()


def owned_by(job_id: int, worker: str, attempt: int) -> Any:
    return _owned(job_id, worker, attempt)


def stale_since(job_id: int, cutoff: dt.datetime) -> Any:
    return sa.and_(
        T.c.id == job_id,
        T.c.status == JobStatus.running.value,
        T.c.heartbeat_at < cutoff,
    )


def fail_if(session: Session, condition: Any, now: dt.datetime, error: str) -> Any | None:
    stmt = (
        sa.update(T)
        .where(condition)
        .values(
            status=JobStatus.failed.value,
            error=error,
            finished_at=now,
            updated_at=now,
            heartbeat_at=None,
        )
        .returning(*T.c)
    )
    return session.execute(stmt).first()


def stale_running(session: Session, queue: str, cutoff: dt.datetime) -> Sequence[Any]:
    return session.execute(
        sa.select(T).where(
            T.c.queue == queue,
            T.c.status == JobStatus.running.value,
            T.c.heartbeat_at < cutoff,
        )
    ).all()


def running(session: Session, queue: str) -> Sequence[Any]:
    return session.execute(
        sa.select(T).where(T.c.queue == queue, T.c.status == JobStatus.running.value)
    ).all()


def running_with_timeout(session: Session, queue: str) -> Sequence[Any]:
    return session.execute(
        sa.select(T.c.id, T.c.started_at, T.c.timeout_seconds, T.c.worker, T.c.attempts).where(
            T.c.queue == queue,
            T.c.status == JobStatus.running.value,
            T.c.timeout_seconds.is_not(None),
        )
    ).all()


def queued_before(session: Session, queue: str, cutoff: dt.datetime, limit: int) -> Sequence[Any]:
    """Queued rows last touched before ``cutoff`` (candidates for a lost queue message)."""
    return session.execute(
        sa.select(T.c.id, T.c.priority, T.c.fair_rank, T.c.run_after)
        .where(
            T.c.queue == queue,
            T.c.status == JobStatus.queued.value,
            T.c.updated_at <= cutoff,
        )
        .order_by(T.c.id)
        .limit(limit)
    ).all()


def request_cancel(session: Session, job_id: int, now: dt.datetime) -> Any | None:
    """queued -> cancelled at once; running -> cancel requested. The row, or ``None``."""
    row = session.execute(
        sa.update(T)
        .where(T.c.id == job_id, T.c.status == JobStatus.queued.value)
        .values(
            status=JobStatus.cancelled.value,
            finished_at=now,
            updated_at=now,
            error="cancelled before it started",
            cancel_requested=True,
        )
        .returning(*T.c)
    ).first()
    if row is not None:
        return row
    return session.execute(
        sa.update(T)
        .where(T.c.id == job_id, T.c.status == JobStatus.running.value)
        .values(cancel_requested=True, updated_at=now)
        .returning(*T.c)
    ).first()


def reset_for_retry(
    session: Session, job_id: int, now: dt.datetime, retries: int, fair_rank: int
) -> Any | None:
    return session.execute(
        sa.update(T)
        .where(
            T.c.id == job_id,
            T.c.status.in_((JobStatus.failed.value, JobStatus.cancelled.value)),
        )
        .values(
            status=JobStatus.queued.value,
            retries_left=retries,
            fair_rank=fair_rank,
            cancel_requested=False,
            result=None,
            error=None,
            started_at=None,
            finished_at=None,
            run_after=None,
            worker=None,
            updated_at=now,
            **_progress_values(None),
        )
        .returning(*T.c)
    ).first()


def _progress_values(progress: dict[str, Any] | None) -> dict[str, Any]:
    progress = progress or {}
    return {
        "progress_fraction": progress.get("fraction"),
        "progress_phase": progress.get("phase"),
        "progress_message": progress.get("message"),
        "progress_eta_seconds": progress.get("eta_seconds"),
    }


def list_rows(
    session: Session,
    *,
    statuses: Sequence[str],
    kind: str | None,
    user: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """Newest first; the cursor is the last id of the previous page."""
    query = sa.select(T).order_by(T.c.id.desc()).limit(limit + 1)
    if statuses:
        query = query.where(T.c.status.in_(list(statuses)))
    if kind:
        query = query.where(T.c.kind == kind)
    if user:
        query = query.where(T.c.submitted_by == user)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(T.c.id < below)
    return id_page(list(session.execute(query).all()), limit)


def changed_since(
    session: Session, since: dt.datetime, user: str | None, limit: int
) -> Sequence[Any]:
    """Rows updated after ``since`` (oldest change first), optionally one user's."""
    query = sa.select(T).where(T.c.updated_at > since).order_by(T.c.updated_at).limit(limit)
    if user is not None:
        query = query.where(T.c.submitted_by == user)
    return session.execute(query).all()


def active(session: Session, user: str | None, limit: int) -> Sequence[Any]:
    query = sa.select(T).where(T.c.status.in_(ACTIVE)).order_by(T.c.id).limit(limit)
    if user is not None:
        query = query.where(T.c.submitted_by == user)
    return session.execute(query).all()

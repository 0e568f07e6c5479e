"""Submitting, reading, cancelling and retrying jobs. Functions ``flush()``; callers commit.

The functions that queue or signal (``submit``, ``cancel``, ``retry``) take the
:class:`~modelyard.jobs.runtime.JobRuntime` whose queue and events they use: the app's
(the ``Jobs`` dependency), the running job's (``ctx.jobs``), or one the caller made. What
they hand to it happens after the caller's transaction commits.

Who sees what: admins see and act on every job; everyone else sees, cancels and retries only
the jobs they submitted (another user's job is a 404, as if it did not exist). Submitting
needs the kind's ``min_role``. ``principal=None`` is the operator (CLI, system code): no limits.

Fairness: a job's place in the queue is its priority, then its *fair rank*: the number of
jobs the same submitter already has waiting or running at that priority when it is queued.
Levels never cross (any ``high`` job starts before any ``normal`` one), and within a level
users take turns: someone with 500 jobs waiting does not delay another user's first job by
more than the one job each worker is busy with. Equal rank: first come, first served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import JsonValue, ValidationError
from sqlalchemy.orm import Session

from modelyard.auth.schemas import Principal
from modelyard.auth.service import record
from modelyard.jobs import repository as repo
from modelyard.jobs.kinds import JobKind, all_kinds, get_kind
from modelyard.jobs.runtime import JobRuntime
from modelyard.jobs.schemas import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    PRIORITY_LEVELS,
    TERMINAL,
    JobKindOut,
    JobOut,
    JobPage,
    JobStatus,
)
from modelyard.kit.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, Unprocessable
from modelyard.kit.time import utcnow

MAX_PARAMS_BYTES = 256 * 1024


def parse_priority(value: str | int) -> int:
    """A level name or an integer 0..100 (higher runs first) -> the stored integer."""
    if isinstance(value, bool):
        raise Unprocessable("priority must be low, normal, high, urgent or an integer 0-100.")
    if isinstance(value, int):
        if not MIN_PRIORITY <= value <= MAX_PRIORITY:
            raise Unprocessable(
                f"priority {value} is out of range; use {MIN_PRIORITY}-{MAX_PRIORITY} "
                "or low, normal, high, urgent."
            )
        return value
    level = PRIORITY_LEVELS.get(str(value).lower())
    if level is None:
        raise Unprocessable(
            f"Unknown priority {value!r}; use low, normal, high, urgent or an integer 0-100."
        )
    return level


def can_see(principal: Principal | None, owner_id: int | None) -> bool:
    return principal is None or principal.role.value == "admin" or owner_id == principal.id


def _kind_or_error(name: str) -> JobKind:
    kind = get_kind(name)
    if kind is None:
        known = ", ".join(k.name for k in all_kinds()) or "none"
        raise Unprocessable(f"No job kind '{name}'. Known kinds: {known}.")
    return kind


def _check_role(kind: JobKind, principal: Principal | None) -> None:
    if principal is not None and not principal.can(kind.min_role):
        raise Forbidden(
            f"Job kind '{kind.name}' needs the {kind.min_role.value} role; "
            f"user '{principal.name}' is {principal.role.value}."
        )


def validate_params(kind: JobKind, params: Mapping[str, JsonValue] | None) -> dict[str, JsonValue]:
    params = dict(params or {})
    if kind.params_model is not None:
        try:
            params = kind.params_model.model_validate(params).model_dump(mode="json")
        except ValidationError as exc:
            errors = [
                {
                    "field": "params." + ".".join(str(p) for p in err["loc"]),
                    "message": err["msg"],
                }
                for err in exc.errors()
            ]
            summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
            raise Unprocessable(
                f"Invalid parameters for job kind '{kind.name}': {summary}.",
                extra={"errors": errors},
            ) from exc
    try:
        size = len(orjson.dumps(params))
    except TypeError as exc:
        raise Unprocessable(f"The parameters are not JSON: {exc}.") from exc
    if size > MAX_PARAMS_BYTES:
        raise PayloadTooLarge(
            f"The parameters are {size} bytes of JSON; at most {MAX_PARAMS_BYTES} are accepted."
        )
    return params


def submit(
    session: Session,
    runtime: JobRuntime,
    *,
    kind: str,
    params: Mapping[str, JsonValue] | None = None,
    priority: str | int = "normal",
    submitted_by: Principal | None = None,
) -> JobOut:
    """Insert a queued job (flushed, not committed); it is handed to the queue after commit."""
    spec = _kind_or_error(kind)
    _check_role(spec, submitted_by)
    level = parse_priority(priority)
    clean = validate_params(spec, params)
    owner_id = submitted_by.id if submitted_by else None
    rank = repo.fair_rank(session, runtime.queue_name, owner_id, level)
    now = utcnow()
    values: dict[str, Any] = {
        "queue": runtime.queue_name,
        "kind": spec.name,
        "params": clean,
        "priority": level,
        "fair_rank": rank,
        "status": JobStatus.queued.value,
        "attempts": 0,
        "retries_left": spec.automatic_retries,
        "timeout_seconds": spec.timeout_seconds,
        "cancel_requested": False,
        "submitted_by_id": owner_id,
        "submitted_by": submitted_by.name if submitted_by else None,
        "created_at": now,
        "updated_at": now,
    }
    # One Core INSERT in the caller's transaction (the ORM unit of work costs 4x more here).
    job_id = repo.insert(session, values)
    state = repo.to_dict(_Row(id=job_id, **values, **_NEW_ROW))

    def hand_over() -> None:
        runtime.enqueue(job_id, level, rank)
        runtime.publish_state(state)

    runtime.after_commit(session, hand_over)
    return JobOut.model_validate(state)


_NEW_ROW: dict[str, Any] = {
    "progress_fraction": None,
    "progress_phase": None,
    "progress_message": None,
    "progress_eta_seconds": None,
    "result": None,
    "error": None,
    "started_at": None,
    "finished_at": None,
}


class _Row:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _visible_row(session: Session, job_id: int, principal: Principal | None) -> Any:
    row = repo.get_row(session, job_id)
    if row is None or not can_see(principal, row.submitted_by_id):
        raise NotFound(f"No job {job_id}.")
    return row


def get(session: Session, job_id: int, principal: Principal | None = None) -> JobOut:
    """The job, if ``principal`` may see it (404 otherwise)."""
    return JobOut.model_validate(repo.to_dict(_visible_row(session, job_id, principal)))


def list_jobs(
    session: Session,
    principal: Principal | None,
    *,
    statuses: Sequence[str] = (),
    kind: str | None = None,
    user: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> JobPage:
    """Newest first. Non-admins see their own jobs; asking for another user's is a 403."""
    if principal is not None and principal.role.value != "admin":
        if user is not None and user != principal.name:
            raise Forbidden("Only admins may list other users' jobs.")
        user = principal.name
    rows, next_cursor = repo.list_rows(
        session, statuses=statuses, kind=kind, user=user, limit=limit, cursor=cursor
    )
    return JobPage(
        items=[JobOut.model_validate(repo.to_dict(r)) for r in rows], next_cursor=next_cursor
    )


def cancel(
    session: Session, runtime: JobRuntime, job_id: int, principal: Principal | None = None
) -> JobOut:
    """A queued job ends ``cancelled`` now; a running one stops at its next checkpoint (the
    cancel reaches its worker through ``runtime``'s events, or through the row)."""
    row = _visible_row(session, job_id, principal)
    if JobStatus(row.status) in TERMINAL:
        raise Conflict(
            f"Job {job_id} has already ended ({row.status}); there is nothing to cancel."
        )
    updated = repo.request_cancel(session, job_id, utcnow())
    if updated is None:  # it ended between the read and the update
        row = repo.get_row(session, job_id)
        raise Conflict(f"Job {job_id} has already ended ({row.status if row else 'gone'}).")
    _audit(session, principal, "job.cancel", job_id, status=updated.status)
    state = repo.to_dict(updated)
    runtime.after_commit(session, lambda: runtime.publish_state(state))
    return JobOut.model_validate(state)


def retry(
    session: Session, runtime: JobRuntime, job_id: int, principal: Principal | None = None
) -> JobOut:
    """Queue a failed or cancelled job again (same id; its automatic retries are reset)."""
    row = _visible_row(session, job_id, principal)
    if row.status not in (JobStatus.failed.value, JobStatus.cancelled.value):
        raise Conflict(
            f"Job {job_id} is {row.status}; only failed or cancelled jobs can be retried."
        )
    spec = _kind_or_error(row.kind)
    _check_role(spec, principal)
    rank = repo.fair_rank(session, runtime.queue_name, row.submitted_by_id, row.priority)
    updated = repo.reset_for_retry(session, job_id, utcnow(), spec.automatic_retries, rank)
    if updated is None:
        raise Conflict(f"Job {job_id} changed while retrying it; try again.")
    _audit(session, principal, "job.retry", job_id, attempts=updated.attempts)
    state = repo.to_dict(updated)

    def hand_over() -> None:
        runtime.enqueue(job_id, updated.priority, rank)
        runtime.publish_state(state)

    runtime.after_commit(session, hand_over)
    return JobOut.model_validate(state)


def kinds_for(principal: Principal | None) -> list[JobKindOut]:
    """The kinds ``principal`` may submit."""
    return [
        JobKindOut(
            name=k.name,
            description=k.description,
            min_role=k.min_role,
            retryable=k.retryable,
            max_retries=k.max_retries,
            timeout_seconds=k.timeout_seconds,
            params_schema=k.params_model.model_json_schema() if k.params_model else None,
        )
        for k in all_kinds()
        if principal is None or principal.can(k.min_role)
    ]


def _audit(
    session: Session, principal: Principal | None, action: str, job_id: int, **detail: object
) -> None:
    record(session, principal.name if principal else "cli", action, "job", str(job_id), **detail)

"""Target logic: create, list, start and stop targets, and take pushed metrics into the store.

Functions take a session and ``flush()``; the caller commits. The live loops
(:mod:`modelyard.deployments.live`) follow every target whose ``desired_state`` is ``running``:
they hold a lease on each target they follow (:func:`hold_leases`, :mod:`modelyard.kit.leases`)
and write its status back through :func:`set_status`. The target rows are written here only;
deleting a target with its deployments is the deployments domain's
(:func:`modelyard.deployments.service.delete_target`), which depends on this one.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from modelyard.auth.service import record, require_owner
from modelyard.kit import leases
from modelyard.kit.db import after_commit
from modelyard.kit.errors import BadRequest, Conflict, NotFound, Unprocessable
from modelyard.kit.refs import id_or_name
from modelyard.kit.time import utcnow
from modelyard.models import Target
from modelyard.monitoring.store import MetricStore
from modelyard.targets.factory import target_dir
from modelyard.targets.schemas import PushAccepted, PushBatch, TargetCreate, TargetOut, TargetPage

__all__ = [
    "check_deletable",
    "create_target",
    "delete_target",
    "finish",
    "get_target",
    "hold_lease",
    "hold_leases",
    "ingest_push",
    "list_targets",
    "release_lease",
    "set_desired_state",
    "set_status",
    "target_out",
    "target_owner",
]

_PUSH = TypeAdapter(PushBatch)
MAX_FUTURE_MS = 5 * 60_000


def target_owner(target_id: int) -> str:
    return f"target:{target_id}"


def target_out(target: Target) -> TargetOut:
    return TargetOut.model_validate(target, from_attributes=True)


def create_target(session: Session, data: TargetCreate, *, actor: str) -> TargetOut:
    if session.scalar(sa.select(Target.id).where(Target.name == data.name)):
        raise Conflict(f"A target named '{data.name}' already exists.")
    # a db_bench target on a machine without db_bench is created and goes down with the
    # install hint as its reason, like any other target that cannot start
    config = data.config.model_dump(mode="json")
    target = Target(
        name=data.name,
        kind=data.kind,
        config=config,
        interval_seconds=data.interval_seconds,
        desired_state="running" if data.start else "stopped",
        status="pending" if data.start else "stopped",
        status_reason="" if data.start else "created stopped",
        created_by=actor,
    )
    session.add(target)
    session.flush()
    record(session, actor, "target.create", "target", data.name, kind=data.kind)
    return target_out(target)


def get_target(session: Session, ref: str | int) -> Target:
    """A target by id (digits) or name."""
    key = id_or_name(ref, what="target", listing="GET /api/targets")
    if isinstance(key, int):
        target = session.get(Target, key)
    else:
        target = session.scalar(sa.select(Target).where(Target.name == key))
    if target is None:
        raise NotFound(f"No target '{ref}'; list targets with GET /api/targets.")
    return target


def list_targets(session: Session, *, kind: str | None = None) -> TargetPage:
    query = sa.select(Target).order_by(Target.id)
    if kind:
        query = query.where(Target.kind == kind)
    return TargetPage(items=[target_out(t) for t in session.scalars(query)])


def set_desired_state(
    session: Session, ref: str | int, state: str, *, actor: str, as_admin: bool = False
) -> TargetOut:
    target = get_target(session, ref)
    require_owner(
        target.created_by,
        actor=actor,
        as_admin=as_admin,
        what=f"Target '{target.name}'",
        action="start or stop it",
    )
    if state not in ("running", "stopped"):
        raise BadRequest("The state must be 'running' or 'stopped'.")
    target.desired_state = state
    if state == "running" and target.status in ("stopped", "down"):
        target.status, target.status_reason = "pending", "starting"
        target.status_changed_at = utcnow()
    session.flush()
    record(
        session, actor, f"target.{'start' if state == 'running' else 'stop'}", "target", target.name
    )
    return target_out(target)


def check_deletable(target: Target, *, actor: str, as_admin: bool = False) -> None:
    """403 unless ``actor`` made the target (or is an admin); 409 while the target runs."""
    require_owner(
        target.created_by,
        actor=actor,
        as_admin=as_admin,
        what=f"Target '{target.name}'",
        action="delete it",
    )
    if target.desired_state == "running" and target.status in ("up", "pending"):
        raise Conflict(
            f"Target '{target.name}' is running; stop it first (POST /api/targets/{target.id}/stop)."
        )


def delete_target(
    session: Session,
    store: MetricStore,
    home: Path,
    target: Target,
    *,
    actor: str,
    as_admin: bool = False,
) -> None:
    """Delete a stopped target, its series and its files; its deployments are gone already
    (the deployments domain deletes them first)."""
    check_deletable(target, actor=actor, as_admin=as_admin)
    session.delete(target)
    session.flush()
    store.forget_owner(target_owner(target.id), conn=session.connection())
    directory = target_dir(home, target.id)
    after_commit(session, lambda: shutil.rmtree(directory, ignore_errors=True))
    record(session, actor, "target.delete", "target", target.name)


_LEASES = leases.LeaseColumns(owner=Target.lease_owner, expires_at=Target.lease_expires_at)


def hold_leases(
    session: Session, owner: str, seconds: float, *, only: set[int] | None, renew: bool
) -> list[Target]:
    """Take or renew ``owner``'s leases on the targets to follow (``desired_state`` running;
    of ``only``, when given) and return the targets it holds. With ``renew`` false and no
    target free to take, it writes nothing."""
    now = utcnow()
    wanted = Target.desired_state == "running"
    if only is not None:
        wanted = sa.and_(wanted, Target.id.in_(only or {-1}))
    if renew or session.scalar(
        sa.select(Target.id).where(wanted, leases.claimable(_LEASES, owner, now)).limit(1)
    ):
        leases.hold(session, _LEASES, wanted, owner, now, seconds)
    return list(
        session.scalars(
            sa.select(Target).where(Target.lease_owner == owner, Target.desired_state == "running")
        )
    )


def hold_lease(session: Session, target_id: int, owner: str, seconds: float) -> bool:
    """Take or renew ``owner``'s lease on one target; whether it holds it."""
    return bool(leases.hold(session, _LEASES, Target.id == target_id, owner, utcnow(), seconds))


def release_lease(session: Session, target_id: int, owner: str) -> None:
    """Let ``owner``'s lease on a target lapse now, for another loop to take at once."""
    leases.release(session, _LEASES, Target.id == target_id, owner)


def finish(session: Session, target_id: int, reason: str) -> None:
    """A target whose run has ended (db_bench's benchmark is done): stopped, saying why."""
    session.execute(
        sa.update(Target)
        .where(Target.id == target_id)
        .values(desired_state="stopped")
        .execution_options(synchronize_session=False)
    )
    set_status(session, target_id, "stopped", reason)


def set_status(
    session: Session, target_id: int, status: str, reason: str = "", *, sampled: bool = False
) -> bool:
    """Record the live loop's view of a target; returns True when the status changed."""
    target = session.get(Target, target_id)
    if target is None:
        return False
    changed = target.status != status or (status == "down" and target.status_reason != reason)
    if changed:
        target.status, target.status_reason, target.status_changed_at = status, reason, utcnow()
    if sampled:
        target.last_sample_at = utcnow()
    session.flush()
    return changed


def _ts_ms(value: float | dt.datetime) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    return int(value * 1000)


def ingest_push(store: MetricStore, target: Target, body: bytes | bytearray) -> PushAccepted:
    """Validate a pushed batch and write it in one transaction.

    Samples stamped outside what the store keeps (older than the raw retention, or more than
    five minutes ahead) are skipped and counted, not stored.
    """
    if target.kind != "push":
        raise Conflict(
            f"Target '{target.name}' is a {target.kind} target; only push targets accept metrics."
        )
    try:
        batch = _PUSH.validate_json(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()[:20]
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Unprocessable(
            f"The metrics batch is not valid: {summary}.", extra={"errors": errors}
        ) from exc
    now = int(utcnow().timestamp() * 1000)
    oldest = now - store.raw_retention_ms
    samples: list[tuple[int, dict[str, float]]] = []
    skipped = 0
    for sample in batch.samples:
        ts = _ts_ms(sample.t)
        if ts > now + MAX_FUTURE_MS or ts < oldest:
            skipped += 1
            continue
        samples.append((ts, sample.metrics))
    points = store.write(target_owner(target.id), samples)
    return PushAccepted(accepted_points=points, samples=len(samples), skipped_samples=skipped)

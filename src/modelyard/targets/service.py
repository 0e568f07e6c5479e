"""Target logic: create, list, start and stop targets, and take pushed metrics into the store.

Functions take a session and ``flush()``; the caller commits. The live loops
(:mod:`modelyard.deployments.live`) follow every target whose ``desired_state`` is ``running``
and write its status back through :func:`set_status`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from modelyard.auth.service import record, require_owner
from modelyard.kit.errors import BadRequest, Conflict, NotFound, Unprocessable
from modelyard.kit.refs import id_or_name
from modelyard.kit.time import utcnow
from modelyard.models import Deployment, Target
from modelyard.monitoring.store import MetricStore
from modelyard.targets.factory import target_dir
from modelyard.targets.schemas import PushAccepted, PushBatch, TargetCreate, TargetOut, TargetPage

__all__ = [
    "create_target",
    "delete_target",
    "get_target",
    "ingest_push",
    "list_targets",
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


def delete_target(
    session: Session,
    store: MetricStore,
    home: Path,
    ref: str | int,
    *,
    actor: str,
    as_admin: bool = False,
) -> None:
    target = get_target(session, ref)
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
    if session.scalar(
        sa.select(Deployment.id).where(
            Deployment.target_id == target.id, Deployment.status == "active"
        )
    ):
        raise Conflict(f"Target '{target.name}' has active deployments; stop them first.")
    stopped = list(
        session.scalars(sa.select(Deployment.id).where(Deployment.target_id == target.id))
    )
    # their alerts, switches and tuning records go by ON DELETE CASCADE; their series here
    for deployment_id in stopped:
        store.forget_owner(f"deployment:{deployment_id}", conn=session.connection())
    session.execute(sa.delete(Deployment).where(Deployment.target_id == target.id))
    session.delete(target)
    session.flush()
    store.forget_owner(target_owner(target.id), conn=session.connection())
    shutil.rmtree(target_dir(home, target.id), ignore_errors=True)
    record(session, actor, "target.delete", "target", target.name)


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

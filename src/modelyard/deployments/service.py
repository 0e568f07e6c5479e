"""Deployment logic: bind a model version (or alias) to a target, read what it recorded.

Functions take a session and ``flush()``; the caller commits. The live loop
(:mod:`modelyard.deployments.live`) does the interval-by-interval work.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from pydantic import JsonValue
from sqlalchemy.orm import Session

from modelyard.auth.service import record
from modelyard.deployments._engine import deployment_owner
from modelyard.deployments.schemas import (
    AlertOut,
    DeploymentCreate,
    DeploymentOut,
    DeploymentPage,
    SaveTuned,
    SwitchOut,
    TuningRecordOut,
)
from modelyard.kit.errors import BadRequest, Conflict, NotFound
from modelyard.kit.refs import id_or_name
from modelyard.kit.time import utcnow
from modelyard.models import (
    AlertEvent,
    Deployment,
    DeploymentSwitch,
    ModelVersion,
    RegisteredModel,
    Target,
    TuningRecord,
)
from modelyard.monitoring.store import MetricStore, QueryResult
from modelyard.registry import service as registry_service
from modelyard.registry.schemas import VersionCreate, VersionOut
from modelyard.targets import service as target_service

__all__ = [
    "create_deployment",
    "delete_deployment",
    "delete_target",
    "get_deployment",
    "list_alerts",
    "list_deployments",
    "list_switches",
    "list_tuning",
    "query_metrics",
    "save_tuned_version",
    "stop_deployment",
]


def _version_labels(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        sa.select(ModelVersion.id, RegisteredModel.name, ModelVersion.version)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .where(ModelVersion.id.in_(ids))
    )
    return {vid: f"{name}/{number}" for vid, name, number in rows}


_INTERNAL_STATE = frozenset({"tuner", "bounds", "spread"})


def _row(deployment: Deployment, target_name: str, labels: dict[int, str]) -> DeploymentOut:
    return DeploymentOut.model_validate(
        {
            "id": deployment.id,
            "name": deployment.name,
            "target_id": deployment.target_id,
            "target": target_name,
            "model": deployment.model_ref,
            "candidates": list(deployment.candidates),
            "auto_tune": deployment.auto_tune,
            "settings": deployment.settings,
            "status": deployment.status,
            "serving_version": labels.get(deployment.serving_version_id or -1),
            "tuned_parameters": deployment.tuned_parameters,
            # the tuner's matrices and the constraint windows' features are the engine's own
            "state": {k: v for k, v in deployment.state.items() if k not in _INTERNAL_STATE},
            "created_by": deployment.created_by,
            "created_at": deployment.created_at,
            "stopped_at": deployment.stopped_at,
        }
    )


def get_deployment(session: Session, ref: str | int) -> Deployment:
    key = id_or_name(ref, what="deployment", listing="GET /api/deployments")
    if isinstance(key, int):
        deployment = session.get(Deployment, key)
    else:
        deployment = session.scalar(sa.select(Deployment).where(Deployment.name == key))
    if deployment is None:
        raise NotFound(f"No deployment '{ref}'; list deployments with GET /api/deployments.")
    return deployment


def deployment_out(session: Session, deployment: Deployment) -> DeploymentOut:
    target = session.get(Target, deployment.target_id)
    labels = _version_labels(session, {deployment.serving_version_id} - {None})  # type: ignore[arg-type]
    return _row(deployment, target.name if target else "", labels)


def create_deployment(session: Session, data: DeploymentCreate, *, actor: str) -> DeploymentOut:
    if session.scalar(sa.select(Deployment.id).where(Deployment.name == data.name)):
        raise Conflict(f"A deployment named '{data.name}' already exists.")
    target = target_service.get_target(session, data.target)
    for ref in [data.model, *data.candidates]:
        version = registry_service.resolve(session, ref)
        if version.flavor != "formula":
            raise BadRequest(
                f"'{ref}' is a {version.flavor} version; a deployment predicts S_max with formula versions."
            )
    deployment = Deployment(
        name=data.name,
        target_id=target.id,
        model_ref=data.model,
        candidates=list(data.candidates),
        auto_tune=data.auto_tune,
        settings=data.settings.model_dump(),
        status="active",
        tuned_parameters={},
        state={},
        created_by=actor,
    )
    session.add(deployment)
    session.flush()
    record(
        session,
        actor,
        "deployment.create",
        "deployment",
        data.name,
        target=target.name,
        model=data.model,
    )
    return deployment_out(session, deployment)


def list_deployments(
    session: Session, *, target: str | None = None, status: str | None = None
) -> DeploymentPage:
    query = (
        sa.select(Deployment, Target.name)
        .join(Target, Target.id == Deployment.target_id)
        .order_by(Deployment.id)
    )
    if target:
        query = query.where(Target.id == target_service.get_target(session, target).id)
    if status:
        query = query.where(Deployment.status == status)
    rows = list(session.execute(query))
    labels = _version_labels(
        session, {d.serving_version_id for d, _ in rows if d.serving_version_id}
    )
    return DeploymentPage(items=[_row(d, name, labels) for d, name in rows])


def stop_deployment(session: Session, ref: str | int, *, actor: str) -> DeploymentOut:
    deployment = get_deployment(session, ref)
    if deployment.status != "stopped":
        deployment.status = "stopped"
        deployment.stopped_at = utcnow()
        session.flush()
        record(session, actor, "deployment.stop", "deployment", deployment.name)
    return deployment_out(session, deployment)


def restart_deployment(session: Session, ref: str | int, *, actor: str) -> DeploymentOut:
    """Evaluate a stopped deployment again, from the next interval of its target."""
    deployment = get_deployment(session, ref)
    if deployment.status != "active":
        deployment.status = "active"
        deployment.stopped_at = None
        session.flush()
        record(session, actor, "deployment.restart", "deployment", deployment.name)
    return deployment_out(session, deployment)


def delete_deployment(session: Session, store: MetricStore, ref: str | int, *, actor: str) -> None:
    deployment = get_deployment(session, ref)
    if deployment.status == "active":
        raise Conflict(f"Deployment '{deployment.name}' is active; stop it first.")
    _forget(session, store, deployment)
    record(session, actor, "deployment.delete", "deployment", deployment.name)


def _forget(session: Session, store: MetricStore, deployment: Deployment) -> None:
    """Delete a stopped deployment with what it recorded: alerts, switches, tuning, series."""
    session.execute(sa.delete(AlertEvent).where(AlertEvent.deployment_id == deployment.id))
    session.execute(sa.delete(TuningRecord).where(TuningRecord.deployment_id == deployment.id))
    session.execute(
        sa.delete(DeploymentSwitch).where(DeploymentSwitch.deployment_id == deployment.id)
    )
    session.delete(deployment)
    session.flush()
    store.forget_owner(deployment_owner(deployment.id), conn=session.connection())


def delete_target(
    session: Session,
    store: MetricStore,
    home: Path,
    ref: str | int,
    *,
    actor: str,
    as_admin: bool = False,
) -> None:
    """Delete a stopped target with its stopped deployments (a deployment depends on its
    target, so this domain deletes both: the targets domain never touches deployments)."""
    target = target_service.get_target(session, ref)
    target_service.check_deletable(target, actor=actor, as_admin=as_admin)
    deployments = list(
        session.scalars(sa.select(Deployment).where(Deployment.target_id == target.id))
    )
    if any(d.status == "active" for d in deployments):
        raise Conflict(f"Target '{target.name}' has active deployments; stop them first.")
    for deployment in deployments:
        _forget(session, store, deployment)
    target_service.delete_target(session, store, home, target, actor=actor, as_admin=as_admin)


def list_switches(session: Session, ref: str | int) -> list[SwitchOut]:
    deployment = get_deployment(session, ref)
    rows = list(
        session.scalars(
            sa.select(DeploymentSwitch)
            .where(DeploymentSwitch.deployment_id == deployment.id)
            .order_by(DeploymentSwitch.id)
        )
    )
    labels = _version_labels(
        session, {v for r in rows for v in (r.from_version_id, r.to_version_id) if v}
    )
    return [
        SwitchOut(
            id=r.id,
            at=r.at,
            reason=r.reason,
            detail=r.detail,
            from_version=labels.get(r.from_version_id or -1),
            to_version=labels.get(r.to_version_id or -1),
        )
        for r in rows
    ]


def list_tuning(session: Session, ref: str | int, *, limit: int = 1000) -> list[TuningRecordOut]:
    deployment = get_deployment(session, ref)
    rows = list(
        session.scalars(
            sa.select(TuningRecord)
            .where(TuningRecord.deployment_id == deployment.id)
            .order_by(TuningRecord.id.desc())
            .limit(limit)
        )
    )
    labels = _version_labels(session, {r.version_id for r in rows if r.version_id})
    return [
        TuningRecordOut(
            id=r.id,
            at=r.at,
            version=labels.get(r.version_id or -1),
            parameters_before=r.parameters_before,
            parameters_after=r.parameters_after,
            evidence=r.evidence,
            error_before_pct=r.error_before_pct,
            error_after_pct=r.error_after_pct,
        )
        for r in reversed(rows)
    ]


def list_alerts(session: Session, ref: str | int, *, open_only: bool = False) -> list[AlertOut]:
    deployment = get_deployment(session, ref)
    query = (
        sa.select(AlertEvent)
        .where(AlertEvent.deployment_id == deployment.id)
        .order_by(AlertEvent.id)
    )
    if open_only:
        query = query.where(AlertEvent.resolved_at.is_(None))
    return [AlertOut.model_validate(a, from_attributes=True) for a in session.scalars(query)]


def save_tuned_version(
    session: Session, ref: str | int, data: SaveTuned, *, actor: str
) -> VersionOut:
    """Save the serving version's parameters with the tuned overlay as a new version."""
    deployment = get_deployment(session, ref)
    if not deployment.tuned_parameters:
        raise Conflict(f"Deployment '{deployment.name}' has no tuned parameters yet.")
    if deployment.serving_version_id is None:
        raise Conflict(f"Deployment '{deployment.name}' has not served a version yet.")
    base = session.get(ModelVersion, deployment.serving_version_id)
    if base is None:
        raise Conflict("The serving version no longer exists.")
    model = session.get(RegisteredModel, base.model_id)
    assert model is not None
    parameters = {**base.parameters, **deployment.tuned_parameters}
    created = registry_service.create_version(
        session,
        model.name,
        VersionCreate(
            flavor=base.flavor,
            parameters=parameters,
            description=data.description or f"Tuned online by deployment '{deployment.name}'.",
            source=f"deployment:{deployment.name}",
            parent=f"{model.name}/{base.version}",
            tags={"tuned_by": deployment.name},
        ),
        None,
        actor=actor,
    )
    if data.alias:
        created = registry_service.set_alias(
            session, model.name, data.alias, created.version, actor=actor
        )
    record(
        session,
        actor,
        "deployment.save_tuned",
        "deployment",
        deployment.name,
        version=created.version,
    )
    return created


def query_metrics(
    session: Session,
    store: MetricStore,
    ref: str | int,
    *,
    from_ms: int,
    to_ms: int,
    step_ms: int,
    names: list[str] | None,
    include_target: bool = True,
    fields: Sequence[str] | None = None,
    digits: int | None = None,
) -> dict[str, JsonValue]:
    """The deployment's series (predicted, actual, headroom, ...) and its target's metrics:
    a JSON document the endpoint writes as it is (a hot path, no schema)."""
    deployment = get_deployment(session, ref)
    own: QueryResult = store.query(
        deployment_owner(deployment.id), from_ms=from_ms, to_ms=to_ms, step_ms=step_ms, names=names
    )
    result = own.to_dict(fields, digits)
    if include_target:
        target = store.query(
            target_service.target_owner(deployment.target_id),
            from_ms=from_ms,
            to_ms=to_ms,
            step_ms=step_ms,
            names=names,
        )
        result["target_series"] = (
            target.series if fields is None and digits is None else target.columns(fields, digits)
        )
    result["deployment"] = deployment.name
    return result

"""Protected aliases: who may move them, and the gate a candidate version must pass.

A protected alias (``alias_protections``) moves only for an admin, or for anyone allowed to
set aliases when its gate passes: the candidate version has a succeeded evaluation on the
gate's dataset, at most ``max_age_days`` old when that is set, and, when ``metric`` is set,
one that beats the current holder's latest succeeded evaluation there (strictly; a holder
never evaluated there is beaten). Removing a protected alias, deleting the version it points
at or its model is for admins only: no evaluation can justify taking production away.

Every move of a protected alias is audited: an allowed one as ``alias.set`` with how it was
allowed, a refused one as ``alias.refused`` with the gate that failed. The refusal's entry is
written even though the refused transaction rolls back (:func:`modelyard.kit.db.after_rollback`).

The gate reads evaluations from their table: a version's ``metrics`` (which editors may edit)
are not evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.auth.service import record
from modelyard.datasets import service as datasets_service
from modelyard.kit.db import after_rollback
from modelyard.kit.errors import BadRequest, Conflict
from modelyard.kit.time import utcnow
from modelyard.models import AliasProtection, Evaluation, ModelVersion
from modelyard.registry.metrics import direction
from modelyard.registry.schemas import AliasGate


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    check: str
    """``admin``, ``unchanged``, ``gate``, or the failed check: ``admin_only``,
    ``evaluated``, ``fresh``, ``metric``, ``beats_holder``."""
    reason: str
    evidence: dict[str, Any]


def gate_from(session: Session, gate: AliasGate) -> dict[str, Any]:
    """The stored form of a gate: the dataset resolved to its id (it must exist)."""
    if gate.metric is not None and direction(gate.metric) is None:
        raise BadRequest(
            f"'{gate.metric}' is not a metric with a better direction; use mae, rmse, mape, "
            "r2, max_error, accuracy, precision, recall, f1, roc_auc or an error percentile."
        )
    dataset = datasets_service.get_by_reference(session, gate.dataset)
    return {
        "dataset_id": dataset.id,
        "dataset": dataset.name,
        "metric": gate.metric,
        "max_age_days": gate.max_age_days,
    }


def protection(session: Session, model_id: int, alias: str) -> AliasProtection | None:
    return session.get(AliasProtection, (model_id, alias))


def _latest_evaluation(session: Session, version_id: int, dataset_id: int) -> Evaluation | None:
    return session.scalar(
        sa.select(Evaluation)
        .where(
            Evaluation.version_id == version_id,
            Evaluation.dataset_id == dataset_id,
            Evaluation.status == "succeeded",
        )
        .order_by(Evaluation.finished_at.desc(), Evaluation.id.desc())
        .limit(1)
    )


def _better(metric: str, candidate: float, holder: float) -> bool:
    way = direction(metric)
    if way == "lower":
        return candidate < holder
    if way == "higher":
        return candidate > holder
    return abs(candidate) < abs(holder)


def judge(
    session: Session,
    guard: AliasProtection,
    *,
    model: str,
    candidate: ModelVersion,
    holder: ModelVersion | None,
    as_admin: bool,
    now: dt.datetime | None = None,
) -> Verdict:
    """May ``guard``'s alias move from ``holder`` to ``candidate``?"""
    where = f"'{model}@{guard.alias}'"
    if holder is not None and holder.id == candidate.id:
        return Verdict(True, "unchanged", "the alias already points at this version", {})
    if as_admin:
        return Verdict(True, "admin", "moved by an admin", {})
    gate = guard.gate
    if gate is None:
        return Verdict(False, "admin_only", f"{where} is protected: only an admin may move it.", {})
    evidence: dict[str, Any] = {"gate": gate, "candidate": {"version": candidate.version}}
    found = _latest_evaluation(session, candidate.id, int(gate["dataset_id"]))
    if found is None:
        return Verdict(
            False,
            "evaluated",
            f"{where} is protected: version {candidate.version} has no succeeded evaluation "
            f"on dataset '{gate['dataset']}'; evaluate it there first (POST /api/evaluations).",
            evidence,
        )
    evidence["candidate"]["evaluation"] = found.id
    max_age = gate.get("max_age_days")
    if max_age is not None and found.finished_at is not None:
        age_days = ((now or utcnow()) - found.finished_at).total_seconds() / 86400
        evidence["candidate"]["age_days"] = round(age_days, 3)
        if age_days > float(max_age):
            return Verdict(
                False,
                "fresh",
                f"{where} is protected: version {candidate.version}'s latest evaluation on "
                f"'{gate['dataset']}' (#{found.id}) is {age_days:.1f} days old, older than "
                f"the gate's {max_age:g} days; evaluate it again.",
                evidence,
            )
    metric = gate.get("metric")
    if metric is None:
        return Verdict(True, "gate", "passed the gate", evidence)
    value = found.metrics.get(metric)
    if not isinstance(value, int | float):
        return Verdict(
            False,
            "metric",
            f"{where} is protected: evaluation #{found.id} of version {candidate.version} has "
            f"no '{metric}'.",
            evidence,
        )
    evidence["candidate"]["value"] = value
    if holder is None:
        return Verdict(True, "gate", "passed the gate (the alias was not set)", evidence)
    held = _latest_evaluation(session, holder.id, int(gate["dataset_id"]))
    held_value = held.metrics.get(metric) if held is not None else None
    if held is None or not isinstance(held_value, int | float):
        evidence["holder"] = {"version": holder.version, "evaluation": held.id if held else None}
        return Verdict(
            True, "gate", f"passed the gate (version {holder.version} has no score)", evidence
        )
    evidence["holder"] = {"version": holder.version, "evaluation": held.id, "value": held_value}
    if not _better(metric, float(value), float(held_value)):
        return Verdict(
            False,
            "beats_holder",
            f"{where} is protected: version {candidate.version} has {metric} {value:g} on "
            f"'{gate['dataset']}' (evaluation #{found.id}), which does not beat version "
            f"{holder.version}'s {held_value:g} (evaluation #{held.id}).",
            evidence,
        )
    return Verdict(True, "gate", "passed the gate", evidence)


def refuse(
    session: Session, actor: str, model: str, alias: str, version: int | None, verdict: Verdict
) -> Conflict:
    """Audit a refused move (kept if the transaction rolls back) and the 409 to raise."""
    detail: dict[str, Any] = {
        "alias": alias,
        "version": version,
        "failed": verdict.check,
        "reason": verdict.reason,
        **verdict.evidence,
    }
    record(session, actor, "alias.refused", "model", model, **detail)
    after_rollback(
        session, lambda own: record(own, actor, "alias.refused", "model", model, **detail)
    )
    return Conflict(
        verdict.reason, extra={"alias": alias, "failed": verdict.check, **verdict.evidence}
    )


def admin_only(session: Session, actor: str, model: str, alias: str, action: str) -> Conflict:
    """A refused removal of a protected alias (or of the version or model it names)."""
    verdict = Verdict(
        False,
        "admin_only",
        f"'{model}@{alias}' is protected: only an admin may {action}.",
        {},
    )
    return refuse(session, actor, model, alias, None, verdict)

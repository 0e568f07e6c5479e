"""Leaderboards and period summaries, computed from the tables with a few grouped queries.

A leaderboard ranks model versions on one dataset by one metric, using each version's
latest succeeded evaluation there. The period summary (the weekly report's content) counts
registry changes, evaluations, jobs (with queue wait and run time percentiles), deployment
alerts and version switches, and flags regressions: a version scoring worse than the
version before it, on the same dataset and headline metric, by more than 5%.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.analytics.schemas import (
    AliasMove,
    BestOnDataset,
    DeploymentActivity,
    DeploymentSummary,
    EvaluationSummary,
    JobFailure,
    JobSummary,
    Leaderboard,
    LeaderboardEntry,
    Percentiles,
    Period,
    PeriodSummary,
    RegistryActivity,
    Regression,
    Totals,
)
from modelyard.datasets import service as datasets_service
from modelyard.evaluations import metrics as metric_rules
from modelyard.kit.errors import BadRequest
from modelyard.models import (
    AlertEvent,
    AuditEntry,
    Deployment,
    DeploymentSwitch,
    Evaluation,
    EvaluationScore,
    Job,
    ModelVersion,
    RegisteredModel,
)

REGRESSION_THRESHOLD = 0.05
HEADLINE = ("mape", "rmse", "mae", "r2", "accuracy", "f1", "roc_auc")


def _latest_per_version(rows: Sequence[Any]) -> list[Any]:
    """Keep the newest evaluation per (model, version, dataset); rows must be newest first."""
    seen: set[tuple[str, int, str]] = set()
    kept = []
    for row in rows:
        key = (row.model_name, row.version, row.dataset_name)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _metric(row: Any, metric: str) -> float | None:
    import numpy as np

    value = (row.metrics or {}).get(metric)
    if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    return None


def _sort_key(direction: str, value: float) -> float:
    return {"lower": value, "higher": -value, "zero": abs(value)}[direction]


def leaderboard(session: Session, dataset: str, metric: str, limit: int) -> Leaderboard:
    """The ``limit`` best versions on ``dataset`` by ``metric``, each by its latest succeeded
    evaluation there: the first rows of the scores index (``evaluation_scores``)."""
    direction = metric_rules.direction(metric)
    if direction is None:
        known = sorted(metric_rules.LOWER_IS_BETTER | metric_rules.HIGHER_IS_BETTER)
        raise BadRequest(f"'{metric}' cannot be ranked; use one of {', '.join(known)}.")
    found = datasets_service.get_by_reference(session, dataset)
    rows = session.execute(
        sa.select(
            EvaluationScore.model_name,
            EvaluationScore.version,
            EvaluationScore.value,
            EvaluationScore.evaluation_id,
            EvaluationScore.finished_at,
        )
        .where(EvaluationScore.dataset_id == found.id, EvaluationScore.metric == metric)
        .order_by(
            EvaluationScore.rank,
            EvaluationScore.finished_at.desc(),
            EvaluationScore.evaluation_id.desc(),
        )
        .limit(limit)
    ).all()
    entries = [
        LeaderboardEntry(
            rank=rank,
            model=row.model_name,
            version=row.version,
            value=row.value,
            evaluation_id=row.evaluation_id,
            evaluated_at=row.finished_at,
        )
        for rank, row in enumerate(rows, start=1)
    ]
    return Leaderboard(dataset=found.name, metric=metric, direction=direction, entries=entries)


def _percentiles(values: list[float]) -> Percentiles:
    import numpy as np

    if not values:
        return Percentiles(p50=None, p95=None, max=None)
    array = np.asarray(values)
    return Percentiles(
        p50=round(float(np.percentile(array, 50)), 3),
        p95=round(float(np.percentile(array, 95)), 3),
        max=round(float(array.max()), 3),
    )


def _days(start: dt.datetime, end: dt.datetime) -> list[str]:
    count = max(1, int((end - start).total_seconds() // 86400))
    return [(start + dt.timedelta(days=i)).date().isoformat() for i in range(count)]


def _day(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _registry_activity(session: Session, start: dt.datetime, end: dt.datetime) -> RegistryActivity:
    entries = session.execute(
        sa.select(
            AuditEntry.action,
            AuditEntry.actor,
            AuditEntry.object_key,
            AuditEntry.detail,
            AuditEntry.at,
        )
        .where(AuditEntry.at >= start, AuditEntry.at < end)
        .order_by(AuditEntry.at)
    ).all()
    actions = Counter(e.action for e in entries)
    alias_moves = [
        AliasMove(
            model=e.object_key,
            alias=e.detail.get("alias"),
            to=e.detail.get("version"),
            from_=e.detail.get("previous"),
            by=e.actor,
            at=e.at,
        )
        for e in entries
        if e.action == "alias.set"
    ]
    return RegistryActivity(
        models_created=actions.get("model.create", 0),
        versions_created=actions.get("version.create", 0),
        changes=sum(actions.values()),
        active_users=sorted({e.actor for e in entries}),
        alias_moves=alias_moves,
    )


def _evaluation_summary(
    session: Session, start: dt.datetime, end: dt.datetime, days: list[str]
) -> EvaluationSummary:
    in_period = session.execute(
        sa.select(
            Evaluation.id,
            Evaluation.model_name,
            Evaluation.version,
            Evaluation.dataset_name,
            Evaluation.status,
            Evaluation.metrics,
            Evaluation.task,
            Evaluation.finished_at,
            Evaluation.created_at,
        )
        .where(Evaluation.created_at >= start, Evaluation.created_at < end)
        .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
    ).all()
    per_day = Counter(_day(r.created_at) for r in in_period)
    succeeded = _latest_per_version([r for r in in_period if r.status == "succeeded"])
    best: list[BestOnDataset] = []
    by_dataset: dict[str, list[Any]] = defaultdict(list)
    for row in succeeded:
        by_dataset[row.dataset_name].append(row)
    for dataset_name, rows in sorted(by_dataset.items()):
        metric = next((m for m in HEADLINE if any(_metric(r, m) is not None for r in rows)), None)
        if metric is None:
            continue
        direction = metric_rules.direction(metric) or "lower"
        ranked = sorted(
            ((v, r) for r in rows if (v := _metric(r, metric)) is not None),
            key=lambda pair: _sort_key(direction, pair[0]),
        )
        value, top = ranked[0]
        best.append(
            BestOnDataset(
                dataset=dataset_name,
                metric=metric,
                model=top.model_name,
                version=top.version,
                value=value,
                evaluation_id=top.id,
                candidates=len(ranked),
            )
        )
    return EvaluationSummary(
        total=len(in_period),
        by_status=dict(Counter(r.status for r in in_period)),
        per_day={day: per_day.get(day, 0) for day in days},
        best_per_dataset=best,
        regressions=_regressions(session, {(r.model_name, r.dataset_name) for r in succeeded}),
    )


def _regressions(session: Session, pairs: set[tuple[str, str]]) -> list[Regression]:
    """Versions worse than the previous evaluated version of the same model on the same dataset."""
    found = []
    for model_name, dataset_name in sorted(pairs):
        rows = _latest_per_version(
            session.execute(
                sa.select(
                    Evaluation.id,
                    Evaluation.model_name,
                    Evaluation.version,
                    Evaluation.dataset_name,
                    Evaluation.metrics,
                )
                .where(
                    Evaluation.model_name == model_name,
                    Evaluation.dataset_name == dataset_name,
                    Evaluation.status == "succeeded",
                )
                .order_by(Evaluation.finished_at.desc(), Evaluation.id.desc())
            ).all()
        )
        rows.sort(key=lambda r: r.version)
        if len(rows) < 2:
            continue
        previous, latest = rows[-2], rows[-1]
        for metric in HEADLINE:
            old, new = _metric(previous, metric), _metric(latest, metric)
            direction = metric_rules.direction(metric)
            if old is None or new is None or direction is None:
                continue
            worse = _sort_key(direction, new) - _sort_key(direction, old)
            scale = max(abs(old), 1e-12)
            if worse / scale > REGRESSION_THRESHOLD:
                found.append(
                    Regression(
                        model=model_name,
                        dataset=dataset_name,
                        metric=metric,
                        previous_version=previous.version,
                        previous=old,
                        version=latest.version,
                        value=new,
                        change_pct=round(100 * (new - old) / scale, 2),
                    )
                )
            break  # one headline metric per pair: the first one both have
    return found


def _job_summary(
    session: Session, start: dt.datetime, end: dt.datetime, days: list[str]
) -> JobSummary:
    rows = session.execute(
        sa.select(
            Job.kind, Job.status, Job.created_at, Job.started_at, Job.finished_at, Job.error, Job.id
        ).where(Job.created_at >= start, Job.created_at < end)
    ).all()
    waits = [(r.started_at - r.created_at).total_seconds() for r in rows if r.started_at]
    runs = [
        (r.finished_at - r.started_at).total_seconds()
        for r in rows
        if r.started_at and r.finished_at
    ]
    per_day: dict[str, Counter[str]] = {day: Counter() for day in days}
    for r in rows:
        day = _day(r.created_at)
        if day in per_day:
            per_day[day][r.status] += 1
    failures = [
        JobFailure(id=r.id, kind=r.kind, error=(r.error or "")[:300])
        for r in sorted(rows, key=lambda r: r.created_at, reverse=True)
        if r.status == "failed"
    ][:10]
    return JobSummary(
        total=len(rows),
        by_status=dict(Counter(r.status for r in rows)),
        by_kind=dict(Counter(r.kind for r in rows)),
        queue_wait_seconds=_percentiles(waits),
        run_seconds=_percentiles(runs),
        per_day={day: dict(counts) for day, counts in per_day.items()},
        recent_failures=failures,
        wait_samples=waits[-2000:],
    )


def _deployment_summary(
    session: Session, start: dt.datetime, end: dt.datetime, days: list[str]
) -> DeploymentSummary:
    names = dict(session.execute(sa.select(Deployment.id, Deployment.name)).all())
    alerts = session.execute(
        sa.select(
            AlertEvent.deployment_id, AlertEvent.kind, AlertEvent.raised_at, AlertEvent.message
        ).where(
            AlertEvent.raised_at >= start,
            AlertEvent.raised_at < end,
            AlertEvent.deployment_id.is_not(None),  # the server's own alerts are not theirs
        )
    ).all()
    switches = session.execute(
        sa.select(
            DeploymentSwitch.deployment_id, DeploymentSwitch.reason, DeploymentSwitch.at
        ).where(DeploymentSwitch.at >= start, DeploymentSwitch.at < end)
    ).all()
    per_day: dict[str, Counter[str]] = {day: Counter() for day in days}
    for a in alerts:
        day = _day(a.raised_at)
        if day in per_day:
            per_day[day][a.kind] += 1
    by_deployment: dict[str, dict[str, Any]] = {}
    for a in alerts:
        entry = by_deployment.setdefault(
            names.get(a.deployment_id, str(a.deployment_id)), {"alerts": Counter(), "switches": 0}
        )
        entry["alerts"][a.kind] += 1
    for s in switches:
        entry = by_deployment.setdefault(
            names.get(s.deployment_id, str(s.deployment_id)), {"alerts": Counter(), "switches": 0}
        )
        entry["switches"] += 1
    return DeploymentSummary(
        deployments=len(names),
        alerts=len(alerts),
        alerts_by_kind=dict(Counter(a.kind for a in alerts)),
        alerts_per_day={day: dict(c) for day, c in per_day.items()},
        switches=len(switches),
        by_deployment={
            k: DeploymentActivity(alerts=dict(v["alerts"]), switches=v["switches"])
            for k, v in sorted(by_deployment.items())
        },
    )


def period_summary(session: Session, start: dt.datetime, end: dt.datetime) -> PeriodSummary:
    if end <= start:
        raise BadRequest("The period must end after it starts.")
    days = _days(start, end)
    model_count = session.scalar(sa.select(sa.func.count()).select_from(RegisteredModel)) or 0
    version_count = session.scalar(sa.select(sa.func.count()).select_from(ModelVersion)) or 0
    return PeriodSummary(
        period=Period(start=start, end=end, days=days),
        totals=Totals(models=model_count, versions=version_count),
        registry=_registry_activity(session, start, end),
        evaluations=_evaluation_summary(session, start, end, days),
        jobs=_job_summary(session, start, end, days),
        deployments=_deployment_summary(session, start, end, days),
    )

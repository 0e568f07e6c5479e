"""The leaderboard's index: each version's latest scores per dataset (``evaluation_scores``).

Written in the transaction that marks an evaluation succeeded, so the index never lags the
evaluations it ranks. Two evaluations of one version on one dataset may finish at once (two
workers): every row is an upsert that keeps the newer evaluation's value, so whichever
commits last, the newest evaluation's scores are the ones kept.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from modelyard.evaluations import metrics as metric_rules
from modelyard.models import Evaluation, EvaluationScore

_KEY = ("dataset_id", "model_name", "version", "metric")


def record(session: Session, row: Evaluation) -> None:
    """Make ``row`` (just succeeded) the source of its version's scores on its dataset,
    unless a newer evaluation of that version there already is."""
    if row.dataset_id is None or row.finished_at is None:
        return
    scores = [
        {
            "dataset_id": row.dataset_id,
            "model_name": row.model_name,
            "version": row.version,
            "metric": name,
            "value": float(value),
            "rank": rank,
            "evaluation_id": row.id,
            "finished_at": row.finished_at,
        }
        for name, value in (row.metrics or {}).items()
        if (rank := metric_rules.rank_of(name, value)) is not None
    ]
    same = (
        EvaluationScore.dataset_id == row.dataset_id,
        EvaluationScore.model_name == row.model_name,
        EvaluationScore.version == row.version,
    )
    newer = sa.select(EvaluationScore.evaluation_id).where(
        *same, EvaluationScore.evaluation_id != row.id, sa.not_(_older_than(row))
    )
    if session.scalar(newer.limit(1)) is not None:
        return  # finished after a newer evaluation of the same version: not its latest
    # Scores of an older evaluation for metrics this one does not have: it is no longer
    # the version's latest, so they leave the ranking (as the metric is missing from it).
    session.execute(
        sa.delete(EvaluationScore).where(
            *same,
            EvaluationScore.metric.not_in([s["metric"] for s in scores]),
            _older_than(row),
        )
    )
    if scores:
        session.execute(_upsert(session, row), scores)


def _older_than(row: Evaluation) -> sa.ColumnElement[bool]:
    assert row.finished_at is not None
    return sa.or_(
        EvaluationScore.finished_at < row.finished_at,
        sa.and_(
            EvaluationScore.finished_at == row.finished_at, EvaluationScore.evaluation_id < row.id
        ),
    )


def _upsert(session: Session, row: Evaluation) -> Any:
    table = cast(sa.Table, EvaluationScore.__table__)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite_dialect.insert(table)
    return insert.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            name: insert.excluded[name]
            for name in ("value", "rank", "evaluation_id", "finished_at")
        },
        where=_older_than(row),
    )

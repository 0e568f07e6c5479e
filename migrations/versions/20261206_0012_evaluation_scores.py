"""evaluation_scores: the leaderboard's index of each version's latest scores per dataset

Filled from the succeeded evaluations already stored: per (dataset, model, version) the
newest one's rankable, finite metrics.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import modelyard.kit.db
from modelyard.registry.metrics import rank_of

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = modelyard.kit.db.UTCDateTime(timezone=True)
BATCH = 5_000


def upgrade() -> None:
    scores = op.create_table(
        "evaluation_scores",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("rank", sa.Float(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("finished_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_evaluation_scores_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_scores_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "dataset_id", "model_name", "version", "metric", name=op.f("pk_evaluation_scores")
        ),
    )
    op.create_index(
        "ix_evaluation_scores_rank", "evaluation_scores", ["dataset_id", "metric", "rank"]
    )
    op.create_index(
        op.f("ix_evaluation_scores_evaluation_id"), "evaluation_scores", ["evaluation_id"]
    )
    _fill(scores)


def _fill(scores: sa.Table) -> None:
    evaluations = sa.table(
        "evaluations",
        sa.column("id", sa.Integer),
        sa.column("dataset_id", sa.Integer),
        sa.column("model_name", sa.String),
        sa.column("version", sa.Integer),
        sa.column("status", sa.String),
        sa.column("metrics", sa.JSON),
        sa.column("finished_at", UTC),
    )
    conn = op.get_bind()
    newest_first = (
        sa.select(
            evaluations.c.id,
            evaluations.c.dataset_id,
            evaluations.c.model_name,
            evaluations.c.version,
            evaluations.c.metrics,
            evaluations.c.finished_at,
        )
        .where(
            evaluations.c.status == "succeeded",
            evaluations.c.dataset_id.is_not(None),
            evaluations.c.finished_at.is_not(None),
        )
        .order_by(
            evaluations.c.dataset_id,
            evaluations.c.model_name,
            evaluations.c.version,
            evaluations.c.finished_at.desc(),
            evaluations.c.id.desc(),
        )
    )
    last_key: tuple[int, str, int] | None = None
    pending: list[dict[str, Any]] = []
    for row in conn.execute(newest_first.execution_options(yield_per=BATCH)):
        key = (row.dataset_id, row.model_name, row.version)
        if key == last_key:
            continue
        last_key = key
        for metric, value in (row.metrics or {}).items():
            rank = rank_of(metric, value)
            if rank is not None:
                pending.append(
                    {
                        "dataset_id": row.dataset_id,
                        "model_name": row.model_name,
                        "version": row.version,
                        "metric": metric,
                        "value": float(value),
                        "rank": rank,
                        "evaluation_id": row.id,
                        "finished_at": row.finished_at,
                    }
                )
        if len(pending) >= BATCH:
            conn.execute(sa.insert(scores), pending)
            pending = []
    if pending:
        conn.execute(sa.insert(scores), pending)


def downgrade() -> None:
    op.drop_index(op.f("ix_evaluation_scores_evaluation_id"), table_name="evaluation_scores")
    op.drop_index("ix_evaluation_scores_rank", table_name="evaluation_scores")
    op.drop_table("evaluation_scores")

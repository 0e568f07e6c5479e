"""drift checks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.kit.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = modelyard.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.Column("reference_name", sa.String(length=200), nullable=False),
        sa.Column("current_id", sa.Integer(), nullable=True),
        sa.Column("current_name", sa.String(length=200), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("columns_done", sa.Integer(), nullable=False),
        sa.Column("dataset_drifted", sa.Boolean(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["datasets.id"],
            name=op.f("fk_drift_checks_reference_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["current_id"],
            ["datasets.id"],
            name=op.f("fk_drift_checks_current_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_drift_checks_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_checks")),
    )
    op.create_index(op.f("ix_drift_checks_reference_id"), "drift_checks", ["reference_id"])
    op.create_index(op.f("ix_drift_checks_current_id"), "drift_checks", ["current_id"])
    op.create_index(op.f("ix_drift_checks_job_id"), "drift_checks", ["job_id"])
    op.create_index(op.f("ix_drift_checks_status"), "drift_checks", ["status"])
    op.create_index(op.f("ix_drift_checks_created_at"), "drift_checks", ["created_at"])


def downgrade() -> None:
    op.drop_table("drift_checks")

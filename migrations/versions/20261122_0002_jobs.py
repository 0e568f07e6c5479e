"""jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.kit.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("fair_rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retries_left", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("progress_fraction", sa.Float(), nullable=True),
        sa.Column("progress_phase", sa.String(length=64), nullable=True),
        sa.Column("progress_message", sa.String(length=500), nullable=True),
        sa.Column("progress_eta_seconds", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", modelyard.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_after", modelyard.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", modelyard.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", modelyard.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", modelyard.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", modelyard.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["users.id"],
            name=op.f("fk_jobs_submitted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_submitted_by"), ["submitted_by"], unique=False)
        batch_op.create_index("ix_jobs_queue_status", ["queue", "status"], unique=False)
        batch_op.create_index(
            "ix_jobs_submitter_status", ["submitted_by_id", "status", "priority"], unique=False
        )
        batch_op.create_index("ix_jobs_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_updated_at")
        batch_op.drop_index("ix_jobs_submitter_status")
        batch_op.drop_index("ix_jobs_queue_status")
        batch_op.drop_index(batch_op.f("ix_jobs_submitted_by"))
        batch_op.drop_index(batch_op.f("ix_jobs_kind"))
    op.drop_table("jobs")

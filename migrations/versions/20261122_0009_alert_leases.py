"""alert_leases: one evaluator per host for host-wide rules, one for the fleet's rules

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.kit.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = modelyard.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_leases",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("acquired_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_alert_leases")),
    )


def downgrade() -> None:
    op.drop_table("alert_leases")

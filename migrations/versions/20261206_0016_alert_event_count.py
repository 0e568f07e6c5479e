"""alert_events.count and last_raised_at: repeated firings of one condition grouped into one event

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.kit.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = modelyard.kit.db.UTCDateTime(timezone=True)


# Plain ALTER TABLE, not batch mode: recreating alert_events on SQLite would cascade-delete
# the deliveries that reference it. SQLite has ADD and DROP COLUMN since 3.35.


def upgrade() -> None:
    op.add_column(
        "alert_events", sa.Column("count", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("alert_events", sa.Column("last_raised_at", UTC, nullable=True))
    op.create_index("ix_alert_events_group", "alert_events", ["source", "kind", "subject"])


def downgrade() -> None:
    op.drop_index("ix_alert_events_group", table_name="alert_events")
    op.drop_column("alert_events", "last_raised_at")
    op.drop_column("alert_events", "count")

"""alerts: rules, channels, deliveries; alert_events shared by system and deployment alerts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import modelyard.kit.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = modelyard.kit.db.UTCDateTime(timezone=True)

# The defaults a fresh install starts with; admins change or delete them through the API.
DEFAULT_RULES = [
    ("host-cpu-high", "cpu_percent", "host", ">", 90.0, 300.0, 300.0, "warning",
     "Host CPU busy above 90% for 5 minutes."),
    ("host-memory-high", "memory_percent", "host", ">", 90.0, 300.0, 300.0, "warning",
     "Host memory in use above 90% for 5 minutes."),
    ("data-disk-full", "disk_percent", "host", ">", 90.0, 60.0, 300.0, "critical",
     "The disk holding the data directory is more than 90% full."),
    ("api-latency-p99", "request_latency_p99_ms", "process", ">", 500.0, 300.0, 300.0,
     "warning", "99th percentile API latency above 500 ms over 5 minutes, for 5 minutes."),
    ("job-queue-wait", "job_queue_wait_seconds", "host", ">", 600.0, 300.0, 300.0, "warning",
     "A runnable job has waited more than 10 minutes to start."),
]  # fmt: skip


def upgrade() -> None:
    rules = op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("for_seconds", sa.Float(), nullable=False),
        sa.Column("window_seconds", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("send_resolved", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_channels_name")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column("deployment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("kind", existing_type=sa.String(length=32), type_=sa.String(40))
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="deployment")
        )
        batch_op.add_column(sa.Column("rule_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("subject", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("value", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("open_key", sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", UTC, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_events_rule_id_alert_rules"),
            "alert_rules",
            ["rule_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_alert_events_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_events_rule_id"), ["rule_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_alert_events_open_key"), ["open_key"])
    # Deployment alerts still open keep their place: one open event per deployment and kind.
    op.execute(
        "UPDATE alert_events SET open_key = 'deployment:' || deployment_id || ':' || kind, "
        "subject = 'deployment:' || deployment_id WHERE resolved_at IS NULL"
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.id"],
            name=op.f("fk_alert_deliveries_event_id_alert_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["alert_channels.id"],
            name=op.f("fk_alert_deliveries_channel_id_alert_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    )
    op.create_index(op.f("ix_alert_deliveries_event_id"), "alert_deliveries", ["event_id"])
    op.create_index(op.f("ix_alert_deliveries_channel_id"), "alert_deliveries", ["channel_id"])
    op.create_index(
        "ix_alert_deliveries_status_due", "alert_deliveries", ["status", "next_attempt_at"]
    )
    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(
        rules,
        [
            {
                "name": name,
                "metric": metric,
                "scope": scope,
                "comparison": comparison,
                "threshold": threshold,
                "for_seconds": for_seconds,
                "window_seconds": window,
                "severity": severity,
                "enabled": True,
                "description": description,
                "created_by": "system",
                "created_at": now,
                "updated_at": now,
            }
            for name, metric, scope, comparison, threshold, for_seconds, window, severity, description in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.execute("DELETE FROM alert_events WHERE deployment_id IS NULL")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_alert_events_open_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_alert_events_rule_id"))
        batch_op.drop_index(batch_op.f("ix_alert_events_source"))
        batch_op.drop_constraint(
            batch_op.f("fk_alert_events_rule_id_alert_rules"), type_="foreignkey"
        )
        for column in (
            "acknowledged_at",
            "acknowledged_by",
            "open_key",
            "threshold",
            "value",
            "subject",
            "rule_id",
            "source",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("kind", existing_type=sa.String(length=40), type_=sa.String(32))
        batch_op.alter_column("deployment_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("alert_channels")
    op.drop_table("alert_rules")

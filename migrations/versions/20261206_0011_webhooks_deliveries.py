"""webhooks, and deliveries: one queue for webhooks and alert channels (from alert_deliveries)

Every alert delivery is carried over with the alert as it reads now as its event document,
so pending ones are still sent and the log of past ones is kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid

import orjson
import sqlalchemy as sa
from alembic import op

import modelyard.kit.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = modelyard.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("name", name=op.f("uq_webhooks_name")),
    )
    deliveries = op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.CheckConstraint(
            "(webhook_id IS NULL) <> (channel_id IS NULL)",
            name=op.f("ck_deliveries_one_subscriber"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["alert_channels.id"],
            name=op.f("fk_deliveries_channel_id_alert_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert_events.id"],
            name=op.f("fk_deliveries_alert_id_alert_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index("ix_deliveries_status_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_webhook_id_id", "deliveries", ["webhook_id", "id"])
    op.create_index(op.f("ix_deliveries_channel_id"), "deliveries", ["channel_id"])
    op.create_index(op.f("ix_deliveries_alert_id"), "deliveries", ["alert_id"])
    op.create_index(op.f("ix_deliveries_event_id"), "deliveries", ["event_id"])
    op.create_index(op.f("ix_deliveries_created_at"), "deliveries", ["created_at"])

    old = sa.table(
        "alert_deliveries",
        *(sa.column(name) for name in ("id", "event_id", "channel_id", "transition", "status")),
        *(sa.column(name) for name in ("attempts", "response_status", "last_error")),
        *(sa.column(name, UTC) for name in ("next_attempt_at", "created_at", "sent_at")),
    )
    events = sa.table(
        "alert_events",
        *(sa.column(name) for name in ("id", "source", "kind", "subject", "severity")),
        *(sa.column(name) for name in ("message", "value", "threshold", "rule_id")),
        sa.column("detail", sa.JSON()),
        sa.column("deployment_id"),
        *(sa.column(name, UTC) for name in ("raised_at", "resolved_at")),
    )
    rules = sa.table("alert_rules", sa.column("id"), sa.column("name"))
    deployments_table = sa.table("deployments", sa.column("id"), sa.column("name"))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(old, events, rules.c.name.label("rule"), deployments_table.c.name.label("dep"))
        .join(events, events.c.id == old.c.event_id)
        .outerjoin(rules, rules.c.id == events.c.rule_id)
        .outerjoin(deployments_table, deployments_table.c.id == events.c.deployment_id)
        .order_by(old.c.id)
    ).mappings()
    ids: dict[tuple[int, str], str] = {}
    carried = []
    for row in rows:
        document = orjson.loads(
            orjson.dumps(
                {
                    "id": row["id_1"],
                    "source": row["source"],
                    "kind": row["kind"],
                    "subject": row["subject"],
                    "severity": row["severity"],
                    "message": row["message"],
                    "detail": row["detail"],
                    "value": row["value"],
                    "threshold": row["threshold"],
                    "rule_id": row["rule_id"],
                    "rule": row["rule"],
                    "deployment_id": row["deployment_id"],
                    "deployment": row["dep"],
                    "raised_at": row["raised_at"],
                    "resolved_at": row["resolved_at"],
                },
                default=str,
            )
        )
        key = (row["event_id"], row["transition"])
        carried.append(
            {
                "event": "alert.resolved" if row["transition"] == "resolved" else "alert.fired",
                "event_id": ids.setdefault(key, f"evt_{uuid.uuid4().hex}"),
                "model": None,
                "payload": document,
                "webhook_id": None,
                "channel_id": row["channel_id"],
                "alert_id": row["event_id"],
                "status": row["status"],
                "attempts": row["attempts"],
                "max_attempts": None,
                "next_attempt_at": row["next_attempt_at"],
                "response_status": row["response_status"],
                "last_error": row["last_error"],
                "duration_ms": None,
                "created_at": row["created_at"],
                "sent_at": row["sent_at"],
            }
        )
    if carried:
        op.bulk_insert(deliveries, carried)
    op.drop_table("alert_deliveries")


def downgrade() -> None:
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
    op.execute(
        "INSERT INTO alert_deliveries (event_id, channel_id, transition, status, attempts, "
        "next_attempt_at, response_status, last_error, created_at, sent_at) "
        "SELECT alert_id, channel_id, CASE WHEN event = 'alert.resolved' THEN 'resolved' "
        "ELSE 'firing' END, status, attempts, next_attempt_at, response_status, last_error, "
        "created_at, sent_at FROM deliveries WHERE channel_id IS NOT NULL AND alert_id IS NOT NULL"
    )
    op.drop_table("deliveries")
    op.drop_table("webhooks")

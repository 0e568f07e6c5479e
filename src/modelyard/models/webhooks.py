"""Webhooks and the one delivery queue that every outbound notification goes through.

A *webhook* subscribes a URL to product events (model created, version created, alias
moved, evaluation finished, drift found, alert fired ...), filtered by event type and model
name, and signs each body with its secret. An alert *channel* (``alert_channels``) subscribes
a URL to alert events by severity. Both queue ``deliveries``: one row per event and
subscriber, holding the event document as it was when the event happened, sent and retried by
one sender (``modelyard.webhooks.delivery``), each attempt's outcome kept on the row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    secret: Mapped[str] = mapped_column(sa.String(200))
    """The HMAC key of ``X-Modelyard-Signature``; shown once, when it is made."""
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    """Event types sent (``version.created`` ...); empty: every type."""
    models: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    """Model names or shell patterns (``smax-*``); empty: events of any model and of none."""
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One event on its way to one subscriber: a webhook or an alert channel."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.Index("ix_deliveries_status_due", "status", "next_attempt_at"),
        sa.Index("ix_deliveries_webhook_id_id", "webhook_id", "id"),
        sa.CheckConstraint("(webhook_id IS NULL) <> (channel_id IS NULL)", name="one_subscriber"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    """The event type: ``model.created``, ``alert.fired``, ``ping`` ..."""
    event_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    """Names the event, the same in every delivery of it and every retry (receivers dedupe)."""
    model: Mapped[str | None] = mapped_column(sa.String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """The event document (``data`` of a webhook's body, ``alert`` of a channel's)."""
    webhook_id: Mapped[int | None] = mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alert_channels.id", ondelete="CASCADE"), index=True
    )
    alert_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alert_events.id", ondelete="CASCADE"), index=True
    )
    """The alert event an ``alert.*`` delivery tells of."""
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    """``pending`` (due at ``next_attempt_at``), ``sending`` (claimed), ``sent`` or ``failed``."""
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int | None]
    """Attempts before it is recorded as failed; null: ``webhooks.attempts``."""
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    response_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[float | None]
    """How long the last attempt took, connection included."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None]

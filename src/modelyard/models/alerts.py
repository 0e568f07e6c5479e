"""Alerts: the rules that watch the server, the events they and deployments raise, and the
channels that tell people (their deliveries are in ``deliveries``, shared with webhooks).

An event is *open* while ``resolved_at`` is null. ``open_key`` names what it is about
(``rule:3:host-a`` for a rule and subject, ``deployment:7:prediction_error`` for a deployment's
own alert) and is unique while set, so several server processes that see the same condition
at once insert one event, not one each; resolving clears the key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    metric: Mapped[str] = mapped_column(sa.String(40))
    scope: Mapped[str] = mapped_column(sa.String(16), default="host")
    """``host`` (the machine) or ``process`` (each server process on its own)."""
    comparison: Mapped[str] = mapped_column(sa.String(2))
    threshold: Mapped[float]
    for_seconds: Mapped[float] = mapped_column(default=0.0)
    window_seconds: Mapped[float] = mapped_column(default=300.0)
    severity: Mapped[str] = mapped_column(sa.String(16), default="warning")
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertEvent(Base):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="deployment", index=True)
    """``system`` (raised by a rule), ``deployment`` (a deployment's evaluation) or ``drift``."""
    deployment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alert_rules.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40))
    """The rule's metric, or ``prediction_error``, ``low_headroom``, ``target_down``."""
    subject: Mapped[str] = mapped_column(sa.String(200), default="")
    severity: Mapped[str] = mapped_column(sa.String(16), default="warning")
    message: Mapped[str] = mapped_column(sa.Text)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    value: Mapped[float | None]
    threshold: Mapped[float | None]
    open_key: Mapped[str | None] = mapped_column(sa.String(250), unique=True)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(64))
    acknowledged_at: Mapped[dt.datetime | None]
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    """Firings grouped into this event: the condition cleared and came back within the
    regrouping window (``alerts.service.REGROUP_SECONDS``) this many times, plus one."""
    last_raised_at: Mapped[dt.datetime | None]
    """When it last fired again (null while it fired once)."""

    __table_args__ = (sa.Index("ix_alert_events_group", "source", "kind", "subject"),)


class AlertChannel(Base):
    __tablename__ = "alert_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="webhook")
    """``webhook`` (the event as JSON), ``slack`` (a Slack-compatible ``{"text": ...}``) or
    ``alertmanager`` (an Alertmanager v2 alert list)."""
    url: Mapped[str] = mapped_column(sa.String(2000))
    min_severity: Mapped[str] = mapped_column(sa.String(16), default="info")
    send_resolved: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertLease(Base):
    """Which server process evaluates the rules that are not its own to measure.

    ``host:<name>`` is held by one process per host for the host-wide rules (CPU, memory,
    disk, job queue) and ``fleet`` by one process of the whole installation for the
    deployment rules, so processes that read nearly the same figure do not open and close the
    same event in turn. The holder renews ``expires_at`` every tick; a process that dies lets
    it lapse and another takes it over with a conditional UPDATE.
    """

    __tablename__ = "alert_leases"

    name: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(200))
    expires_at: Mapped[dt.datetime]
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

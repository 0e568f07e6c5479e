"""Deployments: a model version (or an alias) bound to a live target, and its version switches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    target_id: Mapped[int] = mapped_column(
        sa.ForeignKey("live_targets.id", ondelete="CASCADE"), index=True
    )
    model_ref: Mapped[str] = mapped_column(sa.String(300))
    """``name@alias`` follows the alias; ``name/3`` pins a version."""
    candidates: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    """Further references for dynamic selection: the one with the lowest recent error serves."""
    auto_tune: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    """``active`` or ``stopped``."""
    serving_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    tuned_parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """The tuner's current overlay on the serving version's parameters."""
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """The last interval's prediction and the recent-error windows (survives restarts)."""
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[dt.datetime | None]


class DeploymentSwitch(Base):
    """Every change of the serving version: alias moved, lower error, or start."""

    __tablename__ = "deployment_switches"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    from_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    to_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

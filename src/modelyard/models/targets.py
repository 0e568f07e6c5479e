"""Live targets: the systems deployments watch (embedded RocksDB, db_bench, Prometheus, push)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Target(Base):
    __tablename__ = "live_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    interval_seconds: Mapped[float] = mapped_column(sa.Float, default=1.0)
    desired_state: Mapped[str] = mapped_column(sa.String(16), default="running")
    """``running`` (a live loop follows it) or ``stopped``."""
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    """``pending``, ``up``, ``down`` or ``stopped``."""
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_sample_at: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_expires_at: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

"""Background jobs: the source of truth for the jobs API, the UI and the workers.

The queue (Huey) carries only job ids; everything a worker needs, and everything a client
sees, is in this row. State changes are conditional updates on ``status`` (and ``worker``
and ``attempts`` while running), so two workers, a reaper and a cancel can race safely.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_queue_status", "queue", "status"),
        sa.Index("ix_jobs_submitter_status", "submitted_by_id", "status", "priority"),
        sa.Index("ix_jobs_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    priority: Mapped[int] = mapped_column(default=50)
    fair_rank: Mapped[int] = mapped_column(default=0)
    """Submitter's jobs already waiting or running at this priority when it was queued."""
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    retries_left: Mapped[int] = mapped_column(default=0)
    timeout_seconds: Mapped[float | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)

    progress_fraction: Mapped[float | None]
    progress_phase: Mapped[str | None] = mapped_column(sa.String(64))
    progress_message: Mapped[str | None] = mapped_column(sa.String(500))
    progress_eta_seconds: Mapped[float | None]

    result: Mapped[Any | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)

    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    submitted_by: Mapped[str | None] = mapped_column(sa.String(64), index=True)

    worker: Mapped[str | None] = mapped_column(sa.String(200))
    heartbeat_at: Mapped[dt.datetime | None]
    run_after: Mapped[dt.datetime | None]
    """Not before this time (automatic retry backoff)."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

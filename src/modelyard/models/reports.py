"""Reports: generated documents (JSON, HTML, PNG) kept with what they cover."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    """``weekly`` (the performance report) or another generator's name."""
    title: Mapped[str] = mapped_column(sa.String(300))
    subject: Mapped[str] = mapped_column(sa.String(300), default="", index=True)
    """What the report is about, e.g. ``deployment:4``; empty for the whole installation."""
    period_start: Mapped[dt.datetime | None]
    period_end: Mapped[dt.datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    files: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)
    """Format (json, html, png) -> size in bytes; the file is ``<home>/reports/<id>/report.<format>``."""
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

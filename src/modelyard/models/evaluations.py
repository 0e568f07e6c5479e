"""Evaluations: one model version scored on one dataset by a background job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Evaluation(Base):
    """The request, its job, and once done its metrics.

    ``model_name``/``version`` and ``dataset_name`` are kept as text so an evaluation stays
    readable after its version or dataset is deleted (the foreign keys then become NULL).
    """

    __tablename__ = "evaluations"
    __table_args__ = (sa.Index("ix_evaluations_version_dataset", "version_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(sa.String(200), index=True)
    version: Mapped[int]
    version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    dataset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    dataset_name: Mapped[str] = mapped_column(sa.String(200))
    target: Mapped[str] = mapped_column(sa.String(300))
    features: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    """Model feature -> dataset column, for the features whose column has another name."""
    slice_by: Mapped[str | None] = mapped_column(sa.String(300))
    task: Mapped[str] = mapped_column(sa.String(16))
    chunk_rows: Mapped[int]
    priority: Mapped[str] = mapped_column(sa.String(16), default="normal")
    job_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), index=True, default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    rows_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rows_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """Everything that is not a single score: confusion matrix, slices, skipped rows, timing."""
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

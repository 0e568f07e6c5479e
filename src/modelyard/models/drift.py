"""Drift checks: a reference and a current dataset compared column by column by a job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class DriftCheck(Base):
    """The request (datasets, columns, options), its job, and once done the verdicts.

    The datasets' names are kept as text so a check stays readable after a dataset is
    deleted (the foreign keys then become NULL).
    """

    __tablename__ = "drift_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    reference_name: Mapped[str] = mapped_column(sa.String(200))
    current_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    current_name: Mapped[str] = mapped_column(sa.String(200))
    columns: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    """``[{"name": ..., "kind": "numeric" | "categorical"}]``, settled at submission."""
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    priority: Mapped[str] = mapped_column(sa.String(16), default="normal")
    job_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), index=True, default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    columns_done: Mapped[int] = mapped_column(default=0)
    dataset_drifted: Mapped[bool | None]
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    results: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    """One verdict per column: method, statistic, p-value, threshold, drifted, histograms."""
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

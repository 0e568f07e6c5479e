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


class EvaluationScore(Base):
    """One rankable score of a version's latest succeeded evaluation on a dataset.

    The leaderboard's index: ranking a dataset reads the first rows of
    ``(dataset_id, metric, rank)`` instead of every evaluation's metrics. ``rank`` is the
    value ordered so that smaller is better (the value, its negation or its distance from
    zero, as the metric's direction says). Written when an evaluation succeeds
    (``evaluations.service.complete``): the newest evaluation of a (model, version, dataset)
    replaces the older one's scores. Keyed by the model's name and version number, kept as
    text like the evaluation's, so a deleted version's last scores stay ranked as before.
    """

    __tablename__ = "evaluation_scores"
    __table_args__ = (sa.Index("ix_evaluation_scores_rank", "dataset_id", "metric", "rank"),)

    dataset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    model_name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[float] = mapped_column(sa.Float)
    rank: Mapped[float] = mapped_column(sa.Float)
    evaluation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    finished_at: Mapped[dt.datetime]

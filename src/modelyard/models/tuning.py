"""Tuning records: every adjustment the online tuner made to a deployment's parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class TuningRecord(Base):
    __tablename__ = "tuning_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    parameters_before: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    parameters_after: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error_before_pct: Mapped[float | None] = mapped_column(sa.Float)
    """Median absolute error on the recent saturated windows with the parameters before."""
    error_after_pct: Mapped[float | None] = mapped_column(sa.Float)
    """The same windows, predicted again with the parameters after."""

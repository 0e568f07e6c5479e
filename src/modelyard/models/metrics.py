"""The time-series store: named series, raw points and 1-minute rollups.

Timestamps are integer milliseconds since the epoch: compact, indexable and bucketed with
integer arithmetic the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base


class MetricSeries(Base):
    __tablename__ = "metric_series"
    __table_args__ = (sa.UniqueConstraint("owner", "name", name="uq_metric_series_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(64))
    """``target:<id>`` or ``deployment:<id>``."""
    name: Mapped[str] = mapped_column(sa.String(200))


class MetricPoint(Base):
    __tablename__ = "metric_points"
    __table_args__ = {"sqlite_with_rowid": False}

    series_id: Mapped[int] = mapped_column(primary_key=True)
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(sa.Float)


class MetricRollup(Base):
    __tablename__ = "metric_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    series_id: Mapped[int] = mapped_column(primary_key=True)
    bucket_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    count: Mapped[int]
    sum: Mapped[float] = mapped_column(sa.Float)
    min: Mapped[float] = mapped_column(sa.Float)
    max: Mapped[float] = mapped_column(sa.Float)


class MetricRollupState(Base):
    """One row: minutes before ``rolled_until_ms`` are rolled up, except from ``dirty_from_ms``."""

    __tablename__ = "metric_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    rolled_until_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    dirty_from_ms: Mapped[int | None] = mapped_column(sa.BigInteger)

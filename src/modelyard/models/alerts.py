"""Alert events raised by deployments (prediction error, low headroom, target down)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class AlertEvent(Base):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    """``prediction_error``, ``low_headroom`` or ``target_down``."""
    severity: Mapped[str] = mapped_column(sa.String(16), default="warning")
    message: Mapped[str] = mapped_column(sa.Text)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[dt.datetime | None]

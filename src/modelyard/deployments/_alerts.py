"""Alert events of deployments: raised once while a condition lasts, resolved when it clears.

Routing alerts to people (mail, chat, pagers) is not here yet; the events are stored and
served at ``GET /api/deployments/{id}/alerts``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.kit.time import utcnow
from modelyard.models import AlertEvent

__all__ = ["raise_alert", "resolve_alerts"]


def raise_alert(
    session: Session, deployment_id: int, kind: str, message: str, detail: dict[str, Any]
) -> None:
    """Store an alert unless one of the same kind is still open."""
    open_alert = session.scalar(
        sa.select(AlertEvent.id).where(
            AlertEvent.deployment_id == deployment_id,
            AlertEvent.kind == kind,
            AlertEvent.resolved_at.is_(None),
        )
    )
    if open_alert is None:
        session.add(
            AlertEvent(
                deployment_id=deployment_id,
                kind=kind,
                severity="warning",
                message=message,
                detail=detail,
            )
        )


def resolve_alerts(session: Session, deployment_id: int, kind: str) -> None:
    session.execute(
        sa.update(AlertEvent)
        .where(
            AlertEvent.deployment_id == deployment_id,
            AlertEvent.kind == kind,
            AlertEvent.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow())
    )

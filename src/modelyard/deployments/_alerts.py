"""Alert events of deployments: raised once while a condition lasts, resolved when it clears.

They go through ``alerts.service``, so they share the event list at ``GET /api/alerts``
with the server's own rules and reach the notification channels; a deployment's are also
served at ``GET /api/deployments/{id}/alerts``. The open key (deployment and kind) keeps
one open event per condition even when two processes see it at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelyard.alerts import service as alerts_service

__all__ = ["raise_alert", "resolve_alerts"]


def _open_key(deployment_id: int, kind: str) -> str:
    return f"deployment:{deployment_id}:{kind}"


def raise_alert(
    session: Session, deployment_id: int, kind: str, message: str, detail: dict[str, Any]
) -> None:
    """Store an alert unless one of the same kind is still open."""
    alerts_service.raise_event(
        session,
        source="deployment",
        kind=kind,
        open_key=_open_key(deployment_id, kind),
        message=message,
        severity="warning",
        subject=f"deployment:{deployment_id}",
        detail=detail,
        deployment_id=deployment_id,
    )


def resolve_alerts(session: Session, deployment_id: int, kind: str) -> None:
    alerts_service.resolve_event(session, _open_key(deployment_id, kind))

"""Sending queued deliveries to their channels: an HTTP POST per delivery, retried with a
doubling delay, each attempt's outcome recorded on the delivery row.

Several server processes may send: a delivery is claimed by a conditional update (status
and due time unchanged since it was read) before it is sent, and the claim runs out after
the timeout plus a margin, so a process that dies while sending leaves it to another one
rather than losing it. A delivery can therefore be sent twice in that case, never zero times.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult

from modelyard import __version__
from modelyard.alerts._metrics import ALERT_DELIVERIES
from modelyard.alerts.service import event_out, host_allowed
from modelyard.config import AlertSettings
from modelyard.kit.db import Database
from modelyard.kit.time import utcnow
from modelyard.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, Deployment

if TYPE_CHECKING:
    import httpx  # loaded with the first delivery: it brings ~7 MB that an idle server lacks

__all__ = ["deliver_due", "payload"]

log = logging.getLogger("modelyard.alerts")

CLAIM_MARGIN = dt.timedelta(seconds=30)
MAX_ERROR_CHARS = 500


def payload(kind: str, transition: str, event: dict[str, Any]) -> dict[str, Any]:
    """The JSON body a channel receives."""
    if kind == "slack":
        mark = "RESOLVED" if transition == "resolved" else "FIRING"
        where = event["deployment"] or event["subject"]
        return {"text": f"[{mark}] {event['severity']}: {event['message']} ({where})"}
    return {
        "status": transition,
        "alert": event,
        "server": socket.gethostname(),
        "version": __version__,
    }


def deliver_due(
    db: Database,
    settings: AlertSettings,
    *,
    now: dt.datetime | None = None,
    limit: int = 20,
    client: Callable[[], httpx.Client] | None = None,
) -> tuple[int, int]:
    """Send up to ``limit`` due deliveries; (sent, failed for good) counts. ``client`` gives
    the HTTP client to send with, asked for only when something is due."""
    now = now or utcnow()
    timeout = settings.webhook_timeout_seconds
    claimed = _claim(db, now, limit, dt.timedelta(seconds=timeout) + CLAIM_MARGIN)
    if not claimed:
        return 0, 0
    import httpx

    own_client = client is None
    http = client() if client else httpx.Client(timeout=timeout, follow_redirects=False)
    sent = failed = 0
    try:
        for delivery_id, kind, url, transition, event in claimed:
            if host_allowed(url, settings.webhook_hosts):
                status, error = _post(http, url, payload(kind, transition, event))
            else:  # the setting was narrowed after the channel was made
                status, error = None, "host is not in the alerts.webhook_hosts setting"
            outcome = _record(db, settings, delivery_id, status, error)
            ALERT_DELIVERIES.labels(kind, outcome).inc()
            sent += outcome == "sent"
            failed += outcome == "failed"
    finally:
        if own_client:
            http.close()
    return sent, failed


def _claim(
    db: Database, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[tuple[int, str, str, str, dict[str, Any]]]:
    due = (
        AlertDelivery.status.in_(("pending", "sending")),
        AlertDelivery.next_attempt_at <= now,
    )
    claimed = []
    with db.session() as session:
        candidates = session.scalars(
            sa.select(AlertDelivery.id).where(*due).order_by(AlertDelivery.id).limit(limit)
        ).all()
        for delivery_id in candidates:
            taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                sa.update(AlertDelivery)
                .where(AlertDelivery.id == delivery_id, *due)
                .values(status="sending", next_attempt_at=now + lease)
            )
            if taken.rowcount == 1:
                claimed.append(delivery_id)
        if not claimed:
            return []
        rows = session.execute(
            sa.select(
                AlertDelivery.id,
                AlertDelivery.transition,
                AlertChannel.kind,
                AlertChannel.url,
                AlertEvent,
                AlertRule.name,
                Deployment.name,
            )
            .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
            .join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
            .outerjoin(AlertRule, AlertRule.id == AlertEvent.rule_id)
            .outerjoin(Deployment, Deployment.id == AlertEvent.deployment_id)
            .where(AlertDelivery.id.in_(claimed))
            .order_by(AlertDelivery.id)
        ).all()
        return [(row[0], row[2], row[3], row[1], event_out(row[4], row[5], row[6])) for row in rows]


def _post(http: httpx.Client, url: str, body: dict[str, Any]) -> tuple[int | None, str | None]:
    import httpx

    try:
        response = http.post(
            url,
            content=orjson.dumps(body, default=str),
            headers={"content-type": "application/json", "user-agent": f"modelyard/{__version__}"},
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _record(
    db: Database,
    settings: AlertSettings,
    delivery_id: int,
    status: int | None,
    error: str | None,
) -> str:
    now = utcnow()
    with db.session() as session:
        delivery = session.get(AlertDelivery, delivery_id)
        if delivery is None:  # its event or channel was deleted meanwhile
            return "failed"
        delivery.attempts += 1
        delivery.response_status = status
        delivery.last_error = error
        if error is None:
            delivery.status, delivery.sent_at = "sent", now
            return "sent"
        if delivery.attempts >= settings.delivery_attempts:
            delivery.status = "failed"
            log.warning("alert delivery %s failed for good: %s", delivery_id, error)
            return "failed"
        delay = settings.retry_backoff_seconds * 2 ** (delivery.attempts - 1)
        delivery.status = "pending"
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        return "retry"

"""The one delivery mechanism: webhooks and alert channels queue ``deliveries`` rows here,
and one sender posts them, retries with a doubling delay and records each attempt's outcome.

Queueing happens inside the transaction of the change it tells of (an alias moved, an alert
fired), so a delivery exists exactly when the change was committed. The event document is
kept on the row as it was then; the body is rendered when it is sent: a webhook's is the
signed envelope ``{"id", "type", "created_at", "model", "data"}``, an alert channel's the
alert as JSON, Slack-compatible text, or an Alertmanager v2 alert list (``POST
/api/v2/alerts`` of the channel's Alertmanager: labels, annotations, ``startsAt``, and
``endsAt`` once resolved).

Several server processes may send: a delivery is claimed by a conditional update (status
and due time unchanged since it was read) before it is sent, and the claim runs out after
the timeout plus a margin, so a process that dies while sending leaves it to another one
rather than losing it. A delivery can therefore be sent twice in that case, never zero
times; the body's ``id`` (the same for every attempt) lets a receiver ignore a repeat.

:class:`Sender` is the loop a server runs: every ``webhooks.poll_seconds`` it sends what is
due (queued by any process), and once an hour it removes sent and failed deliveries older
than ``webhooks.retention_days``.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from modelyard import __version__
from modelyard.config import WebhookSettings
from modelyard.kit.db import Database
from modelyard.kit.outbound import refusal
from modelyard.kit.time import utcnow
from modelyard.models import AlertChannel, Delivery, Webhook
from modelyard.webhooks._metrics import DELIVERIES
from modelyard.webhooks.signing import HEADER, sign

if TYPE_CHECKING:
    import httpx  # loaded with the first delivery: it brings ~7 MB that an idle server lacks

__all__ = ["Sender", "deliver_due", "new_event_id", "plain", "prune", "queue"]

log = logging.getLogger("modelyard.webhooks")

CLAIM_MARGIN = dt.timedelta(seconds=30)
MAX_ERROR_CHARS = 500
PRUNE_EVERY_SECONDS = 3600.0
HOSTS_SETTING = "webhooks.hosts"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def plain(document: Any) -> Any:
    """``document`` as plain JSON values (datetimes as ISO 8601 strings), as the row keeps it."""
    return orjson.loads(orjson.dumps(document, default=str))


def queue(
    session: Session,
    *,
    event: str,
    payload: dict[str, Any],
    webhook_ids: Iterable[int] = (),
    channel_ids: Iterable[int] = (),
    event_id: str | None = None,
    model: str | None = None,
    alert_id: int | None = None,
    at: dt.datetime | None = None,
    max_attempts: int | None = None,
) -> list[int]:
    """Queue one delivery of ``event`` per subscriber, in the caller's transaction, all with
    ``event_id`` (a new one unless given); the deliveries' ids."""
    at = at or utcnow()
    event_id = event_id or new_event_id()
    document = plain(payload)
    subscribers = [("webhook_id", i) for i in webhook_ids] + [
        ("channel_id", i) for i in channel_ids
    ]
    rows = [
        {
            "event": event,
            "event_id": event_id,
            "model": model,
            "payload": document,
            "webhook_id": subscriber_id if column == "webhook_id" else None,
            "channel_id": subscriber_id if column == "channel_id" else None,
            "alert_id": alert_id,
            "status": "pending",
            "attempts": 0,
            "max_attempts": max_attempts,
            "next_attempt_at": at,
            "created_at": at,
        }
        for column, subscriber_id in subscribers
    ]
    if not rows:
        return []
    return list(session.scalars(sa.insert(Delivery).returning(Delivery.id), rows))


@dataclass(frozen=True)
class _Claimed:
    id: int
    event: str
    event_id: str
    model: str | None
    payload: dict[str, Any]
    created_at: dt.datetime
    max_attempts: int | None
    url: str
    kind: str
    """``webhook`` (a webhook), or an alert channel's kind: ``alert_webhook``, ``alert_slack``,
    ``alert_alertmanager``."""
    secret: str | None
    enabled: bool


def deliver_due(
    db: Database,
    settings: WebhookSettings,
    *,
    now: dt.datetime | None = None,
    limit: int = 20,
    client: Callable[[], httpx.Client] | None = None,
    only: int | None = None,
) -> tuple[int, int]:
    """Send up to ``limit`` due deliveries (or just delivery ``only``); (sent, failed for
    good) counts. ``client`` gives the HTTP client to send with, asked for only when
    something is due."""
    now = now or utcnow()
    lease = dt.timedelta(seconds=settings.timeout_seconds) + CLAIM_MARGIN
    claimed = _claim(db, now, limit, lease, only)
    if not claimed:
        return 0, 0
    import httpx

    own_client = client is None
    http = client() if client else httpx.Client(timeout=settings.timeout_seconds)
    sent = failed = 0
    try:
        for delivery in claimed:
            started = time.perf_counter()
            status: int | None
            error: str | None
            if not delivery.enabled:
                status, error = None, "the subscriber was disabled before this was sent"
            elif (why := refusal(delivery.url, settings.hosts, HOSTS_SETTING)) is not None:
                status, error = None, why  # the setting was narrowed after the URL was saved
            else:
                status, error = _post(http, delivery)
            elapsed_ms = (time.perf_counter() - started) * 1000
            outcome = _record(db, settings, delivery, status, error, elapsed_ms)
            DELIVERIES.labels(delivery.kind, outcome).inc()
            sent += outcome == "sent"
            failed += outcome == "failed"
    finally:
        if own_client:
            http.close()
    return sent, failed


def _claim(
    db: Database, now: dt.datetime, limit: int, lease: dt.timedelta, only: int | None
) -> list[_Claimed]:
    due = [Delivery.status.in_(("pending", "sending")), Delivery.next_attempt_at <= now]
    if only is not None:
        due = [Delivery.id == only, Delivery.status == "pending"]
    claimed = []
    with db.session() as session:
        candidates = session.scalars(
            sa.select(Delivery.id).where(*due).order_by(Delivery.id).limit(limit)
        ).all()
        for delivery_id in candidates:
            taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                sa.update(Delivery)
                .where(Delivery.id == delivery_id, *due)
                .values(status="sending", next_attempt_at=now + lease)
            )
            if taken.rowcount == 1:
                claimed.append(delivery_id)
        if not claimed:
            return []
        rows = session.execute(
            sa.select(Delivery, Webhook, AlertChannel)
            .outerjoin(Webhook, Webhook.id == Delivery.webhook_id)
            .outerjoin(AlertChannel, AlertChannel.id == Delivery.channel_id)
            .where(Delivery.id.in_(claimed))
            .order_by(Delivery.id)
        ).all()
    out = []
    for delivery, webhook, channel in rows:
        subscriber = webhook or channel
        if subscriber is None:
            continue  # deleted meanwhile; its deliveries went with it
        out.append(
            _Claimed(
                id=delivery.id,
                event=delivery.event,
                event_id=delivery.event_id,
                model=delivery.model,
                payload=delivery.payload,
                created_at=delivery.created_at,
                max_attempts=delivery.max_attempts,
                url=subscriber.url,
                kind="webhook" if webhook is not None else f"alert_{channel.kind}",
                secret=webhook.secret if webhook is not None else None,
                enabled=subscriber.enabled,
            )
        )
    return out


ALERTMANAGER_PATH = "/api/v2/alerts"
ALERTMANAGER_HOLD = dt.timedelta(days=1)
"""A firing alert is sent once, not re-sent like Prometheus does; Alertmanager ends an alert
at its ``endsAt`` (else after its resolve_timeout, 5 minutes), so a firing one is held this
long unless the resolution (which sets ``endsAt`` to when it resolved) comes first."""


def url_of(delivery: _Claimed) -> str:
    """Where the POST goes: an Alertmanager channel may name the server or its alerts API."""
    if delivery.kind == "alert_alertmanager":
        base = delivery.url.rstrip("/")
        return base if base.endswith(ALERTMANAGER_PATH) else base + ALERTMANAGER_PATH
    return delivery.url


def _alertmanager(alert: dict[str, Any], transition: str, sent_at: dt.datetime) -> list[Any]:
    labels = {
        "alertname": str(alert.get("kind") or "alert"),
        "severity": str(alert.get("severity") or "warning"),
        "source": str(alert.get("source") or ""),
        "subject": str(alert.get("subject") or ""),
        "deployment": str(alert.get("deployment") or ""),
        "rule": str(alert.get("rule") or ""),
        "service": "modelyard",
        "instance": socket.gethostname(),
    }
    started = str(alert.get("raised_at") or sent_at.isoformat())
    if transition == "resolved":
        ends = str(alert.get("resolved_at") or sent_at.isoformat())
    else:
        ends = (sent_at + ALERTMANAGER_HOLD).isoformat()
    annotations = {"summary": str(alert.get("message") or ""), "event_id": str(alert.get("id"))}
    if int(alert.get("count") or 1) > 1:
        annotations["count"] = str(alert["count"])
    return [
        {
            "labels": {k: v for k, v in labels.items() if v},
            "annotations": annotations,
            "startsAt": started.replace("+00:00", "Z"),
            "endsAt": ends.replace("+00:00", "Z"),
        }
    ]


def body_of(delivery: _Claimed) -> dict[str, Any] | list[Any]:
    """What the subscriber receives, before signing."""
    if delivery.kind == "webhook":
        return {
            "id": delivery.event_id,
            "type": delivery.event,
            "created_at": delivery.created_at.isoformat().replace("+00:00", "Z"),
            "model": delivery.model,
            "data": delivery.payload,
        }
    alert = delivery.payload
    transition = "resolved" if delivery.event == "alert.resolved" else "firing"
    if delivery.kind == "alert_slack":
        mark = "RESOLVED" if transition == "resolved" else "FIRING"
        where = alert.get("deployment") or alert.get("subject")
        return {"text": f"[{mark}] {alert.get('severity')}: {alert.get('message')} ({where})"}
    if delivery.kind == "alert_alertmanager":
        return _alertmanager(alert, transition, utcnow())
    return {
        "status": transition,
        "alert": alert,
        "server": socket.gethostname(),
        "version": __version__,
    }


def _post(http: httpx.Client, delivery: _Claimed) -> tuple[int | None, str | None]:
    import httpx

    body = orjson.dumps(body_of(delivery))
    headers = {"content-type": "application/json", "user-agent": f"modelyard/{__version__}"}
    if delivery.secret is not None:
        headers |= {
            "X-Modelyard-Event": delivery.event,
            "X-Modelyard-Delivery": str(delivery.id),
            HEADER: sign(delivery.secret, body, int(time.time())),
        }
    try:
        # never follow a redirect: a public host must not bounce the request inward
        response = http.post(
            url_of(delivery), content=body, headers=headers, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _record(
    db: Database,
    settings: WebhookSettings,
    claimed: _Claimed,
    status: int | None,
    error: str | None,
    elapsed_ms: float,
) -> str:
    now = utcnow()
    with db.session() as session:
        delivery = session.get(Delivery, claimed.id)
        if delivery is None:  # its subscriber or alert was deleted meanwhile
            return "failed"
        delivery.attempts += 1
        delivery.response_status = status
        delivery.last_error = error
        delivery.duration_ms = round(elapsed_ms, 3)
        if error is None:
            delivery.status, delivery.sent_at = "sent", now
            return "sent"
        if delivery.attempts >= (delivery.max_attempts or settings.attempts):
            delivery.status = "failed"
            log.warning("delivery %s (%s) failed for good: %s", claimed.id, claimed.event, error)
            return "failed"
        delay = settings.retry_backoff_seconds * 2 ** (delivery.attempts - 1)
        delivery.status = "pending"
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        return "retry"


def prune(db: Database, retention_days: float, *, now: dt.datetime | None = None) -> int:
    """Remove sent and failed deliveries older than ``retention_days``; how many."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    with db.session() as session:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            sa.delete(Delivery).where(
                Delivery.status.in_(("sent", "failed")), Delivery.created_at < cutoff
            )
        )
        return int(result.rowcount or 0)


class Sender:
    """The delivery loop of one server process (a daemon thread)."""

    def __init__(self, db: Database, settings: WebhookSettings) -> None:
        self.db = db
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._pruned_at = 0.0

    def _client(self) -> httpx.Client:
        # one client for the loop's life, made when the first delivery is due (its TLS
        # context costs tens of milliseconds; httpx ~7 MB an idle server never needs)
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self.settings.timeout_seconds)
        return self._http

    def run_once(self, now: dt.datetime | None = None) -> tuple[int, int]:
        sent = failed = 0
        while True:  # a backlog goes out in batches without waiting a poll between them
            batch = deliver_due(self.db, self.settings, now=now, client=self._client)
            sent, failed = sent + batch[0], failed + batch[1]
            if sum(batch) == 0 or self._stop.is_set():
                break
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            prune(self.db, self.settings.retention_days)
        return sent, failed

    def _run(self) -> None:
        while not self._stop.wait(self.settings.poll_seconds):
            try:
                self.run_once()
            except Exception:  # a database away for a moment must not end the loop
                log.exception("sending deliveries failed; trying again at the next poll")

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name="modelyard-deliveries", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.timeout_seconds + 1)
        if self._http is not None:
            self._http.close()

"""Webhooks: subscriptions, the events every domain emits to them, and their delivery log.

:func:`emit` is how a domain tells the outside world that something happened: in the
transaction of the change, it queues one delivery per enabled webhook whose filters take the
event (``delivery.queue``), so nothing is sent for a change that rolls back and nothing is
lost for one that commits. A webhook takes an event when its ``events`` is empty or one of
its patterns matches the type, and its ``models`` is empty or one of its patterns matches the
event's model (an event about no model, such as a system alert, then does not match).

Functions flush; the caller commits. Creating, changing and deleting webhooks is audited by
field name only (a URL may carry a token).
"""

from __future__ import annotations

import fnmatch
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.auth.service import record
from modelyard.kit.errors import Conflict, NotFound, Unprocessable
from modelyard.kit.outbound import refusal
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.kit.time import utcnow
from modelyard.models import Delivery, Webhook
from modelyard.webhooks import delivery
from modelyard.webhooks.schemas import (
    EVENT_TYPES,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    EventTypeOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)

__all__ = [
    "create",
    "delete",
    "emit",
    "event_types",
    "get",
    "get_delivery",
    "list_deliveries",
    "list_webhooks",
    "matches",
    "queue_ping",
    "redeliver",
    "rotate_secret",
    "update",
]

_SUBSCRIBERS = sa.select(Webhook.id, Webhook.events, Webhook.models).where(
    Webhook.enabled.is_(True)
)


def matches(event: str, model: str | None, events: list[str], models: list[str]) -> bool:
    if event == "ping":
        return True
    if events and not any(fnmatch.fnmatchcase(event, pattern) for pattern in events):
        return False
    if not models:
        return True
    return model is not None and any(fnmatch.fnmatchcase(model, pattern) for pattern in models)


def emit(
    session: Session,
    event: str,
    data: dict[str, object],
    *,
    model: str | None = None,
    event_id: str | None = None,
) -> str | None:
    """Queue ``event`` to every webhook that takes it, in the caller's transaction; the
    event's id (``event_id`` when given), or None when no webhook takes it."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    # on the session's connection: registry writes are hot paths, and an ORM execution of
    # even a prepared statement costs several times the statement
    targets = [
        row.id
        for row in session.connection().execute(_SUBSCRIBERS)
        if matches(event, model, row.events or [], row.models or [])
    ]
    if not targets:
        return None
    event_id = event_id or delivery.new_event_id()
    delivery.queue(
        session, event=event, payload=data, webhook_ids=targets, model=model, event_id=event_id
    )
    return event_id


def event_types() -> list[EventTypeOut]:
    return [EventTypeOut(name=name, description=text) for name, text in EVENT_TYPES.items()]


# -- subscriptions ------------------------------------------------------------------------
def _out(row: Webhook) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        name=row.name,
        url=row.url,
        events=row.events or [],
        models=row.models or [],
        description=row.description,
        enabled=row.enabled,
        secret_hint=row.secret[-4:],
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _with_secret(row: Webhook) -> WebhookWithSecret:
    return WebhookWithSecret(**_out(row).model_dump(), secret=row.secret)


def _check_url(url: str | None, allowed_hosts: list[str]) -> None:
    if url is None:
        return
    why = refusal(url, allowed_hosts, delivery.HOSTS_SETTING)
    if why is not None:
        raise Unprocessable(
            f"The request is not valid: url: {why}.",
            extra={"errors": [{"field": "url", "message": why}]},
        )


def _row(session: Session, webhook_id: int) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(f"No webhook with id {webhook_id}; list them with GET /api/webhooks.")
    return row


def _check_name(session: Session, name: str, webhook_id: int | None = None) -> None:
    taken = session.scalar(sa.select(Webhook.id).where(Webhook.name == name))
    if taken is not None and taken != webhook_id:
        raise Conflict(f"A webhook named '{name}' exists.")


def list_webhooks(session: Session) -> list[WebhookOut]:
    return [_out(row) for row in session.scalars(sa.select(Webhook).order_by(Webhook.id))]


def get(session: Session, webhook_id: int) -> WebhookOut:
    return _out(_row(session, webhook_id))


def create(
    session: Session, data: WebhookCreate, *, actor: str, allowed_hosts: list[str]
) -> WebhookWithSecret:
    _check_url(data.url, allowed_hosts)
    _check_name(session, data.name)
    now = utcnow()
    row = Webhook(
        name=data.name,
        url=data.url,
        secret=data.secret or f"whsec_{secrets.token_urlsafe(32)}",
        events=data.events,
        models=data.models,
        description=data.description,
        enabled=data.enabled,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record(session, actor, "create", "webhook", row.name, events=row.events, models=row.models)
    return _with_secret(row)


def update(
    session: Session,
    webhook_id: int,
    data: WebhookUpdate,
    *,
    actor: str,
    allowed_hosts: list[str],
) -> WebhookOut:
    row = _row(session, webhook_id)
    _check_url(data.url, allowed_hosts)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        _check_name(session, changes["name"], row.id)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    record(session, actor, "update", "webhook", row.name, fields=sorted(changes))
    return _out(row)


def rotate_secret(session: Session, webhook_id: int, *, actor: str) -> WebhookWithSecret:
    """A new secret; deliveries signed from now on use it (retries included)."""
    row = _row(session, webhook_id)
    row.secret = f"whsec_{secrets.token_urlsafe(32)}"
    row.updated_at = utcnow()
    session.flush()
    record(session, actor, "rotate_secret", "webhook", row.name)
    return _with_secret(row)


def delete(session: Session, webhook_id: int, *, actor: str) -> None:
    row = _row(session, webhook_id)
    session.execute(sa.delete(Delivery).where(Delivery.webhook_id == row.id))
    session.delete(row)
    session.flush()
    record(session, actor, "delete", "webhook", row.name)


# -- the delivery log ---------------------------------------------------------------------
def _delivery_out(row: Delivery) -> DeliveryOut:
    return DeliveryOut.model_validate(row, from_attributes=True)


def list_deliveries(
    session: Session,
    webhook_id: int,
    *,
    status: str | None = None,
    event: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """A webhook's deliveries, newest first."""
    _row(session, webhook_id)
    query = (
        sa.select(Delivery)
        .where(Delivery.webhook_id == webhook_id)
        .order_by(Delivery.id.desc())
        .limit(limit + 1)
    )
    if status:
        query = query.where(Delivery.status == status)
    if event:
        query = query.where(Delivery.event == event)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(Delivery.id < below)
    rows, next_cursor = id_page(list(session.scalars(query)), limit, lambda r: int(r.id))
    return DeliveryPage(items=[_delivery_out(r) for r in rows], next_cursor=next_cursor)


def _delivery(session: Session, webhook_id: int, delivery_id: int) -> Delivery:
    row = session.get(Delivery, delivery_id)
    if row is None or row.webhook_id != webhook_id:
        raise NotFound(f"Webhook {webhook_id} has no delivery {delivery_id}.")
    return row


def get_delivery(session: Session, webhook_id: int, delivery_id: int) -> DeliveryDetail:
    return DeliveryDetail.model_validate(
        _delivery(session, webhook_id, delivery_id), from_attributes=True
    )


def redeliver(session: Session, webhook_id: int, delivery_id: int, *, actor: str) -> int:
    """Queue the same event (same ``id``) to the webhook again; the new delivery's id."""
    _row(session, webhook_id)
    old = _delivery(session, webhook_id, delivery_id)
    (new_id,) = delivery.queue(
        session,
        event=old.event,
        payload=old.payload,
        webhook_ids=[webhook_id],
        event_id=old.event_id,
        model=old.model,
    )
    record(session, actor, "redeliver", "webhook", str(webhook_id), delivery=delivery_id)
    return new_id


def queue_ping(session: Session, webhook_id: int, *, actor: str) -> int:
    """Queue a single-attempt ``ping`` to one webhook (sent by the caller at once)."""
    row = _row(session, webhook_id)
    (new_id,) = delivery.queue(
        session,
        event="ping",
        payload={"webhook": row.name, "requested_by": actor, "at": utcnow()},
        webhook_ids=[row.id],
        max_attempts=1,
    )
    return new_id

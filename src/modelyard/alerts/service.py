"""Alert rules, notification channels and the shared event list.

``raise_event`` and ``resolve_event`` are the only way events open and close, for rules
(``evaluator``) and deployments (``deployments._alerts``) alike: opening inserts with the
event's ``open_key`` and does nothing when that key is already open (another process got
there first). A condition that fires again within ``REGROUP_SECONDS`` of its event's
resolution reopens that event and counts the firing (``count``) rather than adding one
more event to the list: a flapping condition is one event with a count. Both queue one
delivery per channel that wants the transition, and emit
``alert.fired`` / ``alert.resolved`` to webhooks, through the one delivery queue
(``modelyard.webhooks``). Functions here flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from modelyard.alerts._metrics import ALERTS_FIRED, ALERTS_OPEN
from modelyard.alerts.schemas import (
    AlertDeliveryOut,
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    EventOut,
    EventPage,
    RuleCreate,
    RuleOut,
    RuleUpdate,
    Severity,
)
from modelyard.auth.service import record
from modelyard.kit.errors import Conflict, NotFound, Unprocessable
from modelyard.kit.outbound import refusal
from modelyard.kit.pagination import decode_id_cursor, id_page
from modelyard.kit.time import utcnow
from modelyard.models import AlertChannel, AlertEvent, AlertRule, Delivery, Deployment
from modelyard.webhooks import delivery
from modelyard.webhooks import service as webhooks

__all__ = [
    "ack_event",
    "create_channel",
    "create_rule",
    "delete_channel",
    "delete_rule",
    "event_out",
    "get_rule",
    "list_channels",
    "list_deliveries",
    "list_events",
    "list_rules",
    "raise_event",
    "refresh_open_gauge",
    "resolve_event",
    "rule_key",
    "update_channel",
    "update_rule",
]

SOURCES = ("system", "deployment", "drift")
REGROUP_SECONDS = 600.0


def rule_key(rule_id: int, subject: str) -> str:
    return f"rule:{rule_id}:{subject}"


# -- events -------------------------------------------------------------------------------
def raise_event(
    session: Session,
    *,
    source: str,
    kind: str,
    open_key: str,
    message: str,
    severity: str = "warning",
    subject: str = "",
    detail: Mapping[str, object] | None = None,
    deployment_id: int | None = None,
    rule_id: int | None = None,
    value: float | None = None,
    threshold: float | None = None,
    at: dt.datetime | None = None,
    regroup_seconds: float = REGROUP_SECONDS,
) -> int | None:
    """Open an event unless one with ``open_key`` is open: the same condition's event
    resolved within ``regroup_seconds`` reopens with its count raised, else a new one; the
    event's id, or None when it was open already."""
    at = at or utcnow()
    reopened = _reopen(
        session,
        (source, kind, subject, rule_id),
        open_key,
        message,
        detail,
        value,
        at,
        regroup_seconds,
    )
    if reopened is not None:
        if reopened:
            _queue_deliveries(session, reopened, "firing", severity, at)
            ALERTS_FIRED.labels(source, severity).inc()
        return reopened or None
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(AlertEvent)
        .values(
            source=source,
            kind=kind,
            subject=subject,
            severity=severity,
            message=message,
            detail=dict(detail or {}),
            deployment_id=deployment_id,
            rule_id=rule_id,
            value=value,
            threshold=threshold,
            open_key=open_key,
            raised_at=at,
        )
        .on_conflict_do_nothing(index_elements=["open_key"])
        .returning(AlertEvent.id)
    )
    event_id = session.execute(statement).scalar_one_or_none()
    if event_id is not None:
        _queue_deliveries(session, event_id, "firing", severity, at)
        ALERTS_FIRED.labels(source, severity).inc()
    return event_id


def _reopen(
    session: Session,
    condition: tuple[str, str, str, int | None],
    open_key: str,
    message: str,
    detail: Mapping[str, object] | None,
    value: float | None,
    at: dt.datetime,
    regroup_seconds: float,
) -> int | None:
    """Reopen the condition's recently resolved event: its id, 0 when the key is open
    already (nothing to do), None when there is none to reopen."""
    if regroup_seconds <= 0:
        return None
    source, kind, subject, rule_id = condition
    recent = session.execute(
        sa.select(AlertEvent.id, AlertEvent.open_key)
        .where(
            AlertEvent.source == source,
            AlertEvent.kind == kind,
            AlertEvent.subject == subject,
            AlertEvent.rule_id.is_not_distinct_from(rule_id),
            sa.or_(
                AlertEvent.open_key == open_key,
                AlertEvent.resolved_at >= at - dt.timedelta(seconds=regroup_seconds),
            ),
        )
        .order_by(AlertEvent.id.desc())
        .limit(1)
    ).first()
    if recent is None:
        return None
    if recent.open_key is not None:
        return 0 if recent.open_key == open_key else None
    try:
        with session.begin_nested():  # another process may open the key at the same moment
            reopened = session.execute(
                sa.update(AlertEvent)
                .where(AlertEvent.id == recent.id, AlertEvent.open_key.is_(None))
                .values(
                    open_key=open_key,
                    resolved_at=None,
                    count=AlertEvent.count + 1,
                    last_raised_at=at,
                    message=message,
                    detail=dict(detail or {}),
                    value=value,
                )
                .returning(AlertEvent.id)
            ).scalar_one_or_none()
    except sa.exc.IntegrityError:
        return 0
    return int(reopened) if reopened is not None else 0


def resolve_event(session: Session, open_key: str, *, at: dt.datetime | None = None) -> int | None:
    """Resolve the open event with ``open_key``; its id, or None when none was open."""
    at = at or utcnow()
    row = session.execute(
        sa.update(AlertEvent)
        .where(AlertEvent.open_key == open_key)
        .values(resolved_at=at, open_key=None)
        .returning(AlertEvent.id, AlertEvent.severity)
    ).first()
    if row is None:
        return None
    _queue_deliveries(session, row.id, "resolved", row.severity, at)
    return int(row.id)


def _queue_deliveries(
    session: Session, event_id: int, transition: str, severity: str, at: dt.datetime
) -> None:
    rank = Severity(severity).rank if severity in Severity.__members__ else 0
    channels = session.execute(
        sa.select(AlertChannel.id, AlertChannel.min_severity, AlertChannel.send_resolved).where(
            AlertChannel.enabled.is_(True)
        )
    ).all()
    wanted = [
        c.id
        for c in channels
        if Severity(c.min_severity).rank <= rank and (transition == "firing" or c.send_resolved)
    ]
    document = get_event(session, event_id).model_dump()
    event = "alert.resolved" if transition == "resolved" else "alert.fired"
    shared_id = delivery.new_event_id()
    delivery.queue(
        session,
        event=event,
        payload=document,
        channel_ids=wanted,
        alert_id=event_id,
        at=at,
        event_id=shared_id,
    )
    webhooks.emit(session, event, delivery.plain(document), event_id=shared_id)


def _event_query() -> sa.Select[AlertEvent, str | None, str | None]:
    return (
        sa.select(AlertEvent, AlertRule.name, Deployment.name)
        .outerjoin(AlertRule, AlertRule.id == AlertEvent.rule_id)
        .outerjoin(Deployment, Deployment.id == AlertEvent.deployment_id)
    )


def event_out(event: AlertEvent, rule: str | None, deployment: str | None) -> EventOut:
    return EventOut.model_validate(
        {
            "id": event.id,
            "source": event.source,
            "kind": event.kind,
            "subject": event.subject,
            "severity": event.severity,
            "message": event.message,
            "detail": event.detail,
            "value": event.value,
            "threshold": event.threshold,
            "rule_id": event.rule_id,
            "rule": rule,
            "deployment_id": event.deployment_id,
            "deployment": deployment,
            "raised_at": event.raised_at,
            "resolved_at": event.resolved_at,
            "acknowledged_by": event.acknowledged_by,
            "acknowledged_at": event.acknowledged_at,
            "count": event.count,
            "last_raised_at": event.last_raised_at,
        }
    )


def list_events(
    session: Session,
    *,
    state: str | None = None,
    source: str | None = None,
    severity: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> EventPage:
    """Newest first; ``state`` is ``open`` or ``resolved``."""
    query = _event_query().order_by(AlertEvent.id.desc()).limit(limit + 1)
    if state == "open":
        query = query.where(AlertEvent.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(AlertEvent.resolved_at.is_not(None))
    if source:
        query = query.where(AlertEvent.source == source)
    if severity:
        query = query.where(AlertEvent.severity == severity)
    below = decode_id_cursor(cursor)
    if below is not None:
        query = query.where(AlertEvent.id < below)
    rows, next_cursor = id_page(session.execute(query).all(), limit, lambda r: int(r[0].id))
    return EventPage(
        items=[event_out(row[0], row[1], row[2]) for row in rows], next_cursor=next_cursor
    )


def get_event(session: Session, event_id: int) -> EventOut:
    row = session.execute(_event_query().where(AlertEvent.id == event_id)).first()
    if row is None:
        raise NotFound(f"No alert with id {event_id}.")
    return event_out(row[0], row[1], row[2])


def ack_event(session: Session, event_id: int, actor: str) -> EventOut:
    """Mark an event as seen by ``actor``; the first acknowledgement is kept."""
    event = session.get(AlertEvent, event_id)
    if event is None:
        raise NotFound(f"No alert with id {event_id}.")
    if event.acknowledged_at is None:
        event.acknowledged_by = actor
        event.acknowledged_at = utcnow()
        record(session, actor, "ack", "alert", str(event_id))
        session.flush()
    return get_event(session, event_id)


def refresh_open_gauge(session: Session) -> dict[tuple[str, str], int]:
    counts = {
        (row.source, row.severity): int(row.n)
        for row in session.execute(
            sa.select(AlertEvent.source, AlertEvent.severity, sa.func.count().label("n"))
            .where(AlertEvent.resolved_at.is_(None))
            .group_by(AlertEvent.source, AlertEvent.severity)
        )
    }
    for source in SOURCES:
        for severity in Severity:
            ALERTS_OPEN.labels(source, severity.value).set(counts.get((source, severity.value), 0))
    return counts


# -- rules --------------------------------------------------------------------------------
def rule_out(rule: AlertRule) -> RuleOut:
    return RuleOut.model_validate(rule, from_attributes=True)


def list_rules(session: Session) -> list[RuleOut]:
    return [rule_out(r) for r in session.scalars(sa.select(AlertRule).order_by(AlertRule.id))]


def get_rule(session: Session, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"No alert rule with id {rule_id}.")
    return rule


def create_rule(session: Session, data: RuleCreate, actor: str) -> RuleOut:
    if session.scalar(sa.select(AlertRule.id).where(AlertRule.name == data.name)) is not None:
        raise Conflict(f"An alert rule named '{data.name}' exists.")
    now = utcnow()
    rule = AlertRule(
        **data.model_dump(mode="json"), created_by=actor, created_at=now, updated_at=now
    )
    session.add(rule)
    session.flush()
    record(session, actor, "create", "alert_rule", rule.name, metric=rule.metric)
    return rule_out(rule)


def update_rule(session: Session, rule_id: int, data: RuleUpdate, actor: str) -> RuleOut:
    rule = get_rule(session, rule_id)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.updated_at = utcnow()
    if not rule.enabled:
        _resolve_rule_events(session, rule.id)
    session.flush()
    record(session, actor, "update", "alert_rule", rule.name, **changes)
    return rule_out(rule)


def delete_rule(session: Session, rule_id: int, actor: str) -> None:
    rule = get_rule(session, rule_id)
    _resolve_rule_events(session, rule.id)
    session.delete(rule)
    session.flush()
    record(session, actor, "delete", "alert_rule", rule.name)


def _resolve_rule_events(session: Session, rule_id: int) -> None:
    keys = session.scalars(
        sa.select(AlertEvent.open_key).where(
            AlertEvent.rule_id == rule_id, AlertEvent.open_key.is_not(None)
        )
    ).all()
    for key in keys:
        if key is not None:
            resolve_event(session, key)


# -- channels -----------------------------------------------------------------------------
def channel_out(channel: AlertChannel) -> ChannelOut:
    return ChannelOut.model_validate(channel, from_attributes=True)


def list_channels(session: Session) -> list[ChannelOut]:
    return [
        channel_out(c) for c in session.scalars(sa.select(AlertChannel).order_by(AlertChannel.id))
    ]


def _get_channel(session: Session, channel_id: int) -> AlertChannel:
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound(f"No notification channel with id {channel_id}.")
    return channel


def _check_host(url: str | None, allowed_hosts: list[str]) -> None:
    # '*' means public hosts: a name resolving to loopback, private or metadata addresses
    # is refused unless listed (kit.outbound), when the channel is saved and at each delivery.
    message = refusal(url, allowed_hosts, delivery.HOSTS_SETTING) if url is not None else None
    if message is not None:
        raise Unprocessable(
            f"The request is not valid: url: {message}.",
            extra={"errors": [{"field": "url", "message": message}]},
        )


def create_channel(
    session: Session, data: ChannelCreate, actor: str, allowed_hosts: list[str]
) -> ChannelOut:
    _check_host(data.url, allowed_hosts)
    if session.scalar(sa.select(AlertChannel.id).where(AlertChannel.name == data.name)):
        raise Conflict(f"A notification channel named '{data.name}' exists.")
    channel = AlertChannel(**data.model_dump(mode="json"), created_by=actor, created_at=utcnow())
    session.add(channel)
    session.flush()
    record(session, actor, "create", "alert_channel", channel.name, kind=channel.kind)
    return channel_out(channel)


def update_channel(
    session: Session, channel_id: int, data: ChannelUpdate, actor: str, allowed_hosts: list[str]
) -> ChannelOut:
    channel = _get_channel(session, channel_id)
    _check_host(data.url, allowed_hosts)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(channel, name, value)
    session.flush()
    # field names only: a channel's URL often carries its secret (Slack's do)
    record(session, actor, "update", "alert_channel", channel.name, fields=sorted(changes))
    return channel_out(channel)


def delete_channel(session: Session, channel_id: int, actor: str) -> None:
    channel = _get_channel(session, channel_id)
    session.execute(sa.delete(Delivery).where(Delivery.channel_id == channel.id))
    session.delete(channel)
    session.flush()
    record(session, actor, "delete", "alert_channel", channel.name)


def list_deliveries(session: Session, event_id: int) -> list[AlertDeliveryOut]:
    get_event(session, event_id)
    rows = session.execute(
        sa.select(Delivery, AlertChannel.name)
        .join(AlertChannel, AlertChannel.id == Delivery.channel_id)
        .where(Delivery.alert_id == event_id)
        .order_by(Delivery.id)
    ).all()
    return [
        AlertDeliveryOut(
            id=d.id,
            event_id=d.alert_id,
            channel=name,
            transition="resolved" if d.event == "alert.resolved" else "firing",
            status=d.status,
            attempts=d.attempts,
            response_status=d.response_status,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            sent_at=d.sent_at,
        )
        for d, name in rows
    ]

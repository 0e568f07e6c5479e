"""Alert endpoints: the event list and acknowledgements, rules (admin), notification
channels (admin), the deliveries of an event, and an on-demand evaluation (admin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from modelyard.alerts import service
from modelyard.alerts.evaluator import Evaluator
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
    TickOut,
)
from modelyard.auth.deps import Admin, Editor, Viewer
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.responses import json_response

router = APIRouter(prefix="/alerts", tags=["alerts"])

EventId = Annotated[int, Path(ge=1, le=2**62)]
RuleId = Annotated[int, Path(ge=1, le=2**62)]
ChannelId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=EventPage)
def list_alerts(
    _: Viewer,
    session: DbSession,
    state: Annotated[str | None, Query(pattern=r"^(open|resolved)$")] = None,
    source: Annotated[str | None, Query(pattern=r"^(system|deployment|drift)$")] = None,
    severity: Severity | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPage:
    """List alert events, newest first (system rules and deployments alike)."""
    return service.list_events(
        session,
        state=state,
        source=source,
        severity=severity.value if severity else None,
        cursor=cursor,
        limit=limit,
    )


@router.get("/rules", response_model=list[RuleOut])
def list_rules(_: Viewer, session: DbSession) -> list[RuleOut]:
    """List alert rules."""
    return service.list_rules(session)


@router.post("/rules", response_model=RuleOut, status_code=201)
def create_rule(data: RuleCreate, principal: Admin, session: DbSession) -> RuleOut:
    """Create an alert rule."""
    return service.create_rule(session, data, principal.name)


@router.get("/rules/{rule_id:int}", response_model=RuleOut)
def get_rule(rule_id: RuleId, _: Viewer, session: DbSession) -> RuleOut:
    """Show an alert rule."""
    return service.rule_out(service.get_rule(session, rule_id))


@router.patch("/rules/{rule_id:int}", response_model=RuleOut)
def update_rule(rule_id: RuleId, data: RuleUpdate, principal: Admin, session: DbSession) -> RuleOut:
    """Change an alert rule's threshold, duration, severity or state."""
    return service.update_rule(session, rule_id, data, principal.name)


@router.delete("/rules/{rule_id:int}", status_code=204)
def delete_rule(rule_id: RuleId, principal: Admin, session: DbSession) -> None:
    """Delete an alert rule; its open events are resolved."""
    service.delete_rule(session, rule_id, principal.name)


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(_: Admin, session: DbSession) -> list[ChannelOut]:
    """List notification channels."""
    return service.list_channels(session)


@router.post("/channels", response_model=ChannelOut, status_code=201)
def create_channel(
    data: ChannelCreate, principal: Admin, session: DbSession, settings: AppSettings
) -> ChannelOut:
    """Add a notification channel (a webhook or Slack-compatible URL)."""
    return service.create_channel(session, data, principal.name, settings.webhooks.hosts)


@router.patch("/channels/{channel_id:int}", response_model=ChannelOut)
def update_channel(
    channel_id: ChannelId,
    data: ChannelUpdate,
    principal: Admin,
    session: DbSession,
    settings: AppSettings,
) -> ChannelOut:
    """Change a notification channel."""
    return service.update_channel(
        session, channel_id, data, principal.name, settings.webhooks.hosts
    )


@router.delete("/channels/{channel_id:int}", status_code=204)
def delete_channel(channel_id: ChannelId, principal: Admin, session: DbSession) -> None:
    """Delete a notification channel and its delivery records."""
    service.delete_channel(session, channel_id, principal.name)


@router.post("/evaluate", response_model=TickOut)
def evaluate_now(request: Request, _: Admin) -> Response:
    """Evaluate the rules and send due notifications now."""
    evaluator: Evaluator | None = getattr(request.app.state, "alerts", None)
    if evaluator is None:
        # the loop is off in this process: keep one evaluator so `for` durations carry over
        evaluator = Evaluator(request.app.state.db, request.app.state.settings)
        request.app.state.alerts = evaluator
    return json_response(asdict(evaluator.tick()))


@router.get("/{event_id:int}", response_model=EventOut)
def get_alert(event_id: EventId, _: Viewer, session: DbSession) -> EventOut:
    """Show an alert event."""
    return service.get_event(session, event_id)


@router.post("/{event_id:int}/ack", response_model=EventOut)
def ack_alert(event_id: EventId, principal: Editor, session: DbSession) -> EventOut:
    """Acknowledge an alert event (the first acknowledgement is kept)."""
    return service.ack_event(session, event_id, principal.name)


@router.get("/{event_id:int}/deliveries", response_model=list[AlertDeliveryOut])
def list_deliveries(event_id: EventId, _: Viewer, session: DbSession) -> list[AlertDeliveryOut]:
    """Notification attempts of an alert event, per channel."""
    return service.list_deliveries(session, event_id)

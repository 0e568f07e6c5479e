"""Webhook endpoints (admin): subscriptions, their secret, the delivery log, redelivery and a
test send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.auth.deps import Admin
from modelyard.kit.deps import AppSettings, in_session
from modelyard.webhooks import delivery, service
from modelyard.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    EventTypeOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**62)]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/events", response_model=list[EventTypeOut])
async def list_event_types(_: Admin) -> list[EventTypeOut]:
    """List the event types a webhook can take."""
    return service.event_types()


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(request: Request, _: Admin) -> list[WebhookOut]:
    """List webhooks."""
    return await in_session(request, service.list_webhooks)


@router.post("", response_model=WebhookWithSecret, status_code=201)
async def create_webhook(
    request: Request, data: WebhookCreate, principal: Admin, settings: AppSettings
) -> WebhookWithSecret:
    """Add a webhook; the answer holds its signing secret, shown this once."""
    return await in_session(
        request,
        lambda session: service.create(
            session, data, actor=principal.name, allowed_hosts=settings.webhooks.hosts
        ),
    )


@router.get("/{webhook_id:int}", response_model=WebhookOut)
async def get_webhook(request: Request, webhook_id: WebhookId, _: Admin) -> WebhookOut:
    """Show a webhook."""
    return await in_session(request, lambda session: service.get(session, webhook_id))


@router.patch("/{webhook_id:int}", response_model=WebhookOut)
async def update_webhook(
    request: Request,
    webhook_id: WebhookId,
    data: WebhookUpdate,
    principal: Admin,
    settings: AppSettings,
) -> WebhookOut:
    """Change a webhook's URL, filters, description or state."""
    return await in_session(
        request,
        lambda session: service.update(
            session, webhook_id, data, actor=principal.name, allowed_hosts=settings.webhooks.hosts
        ),
    )


@router.post("/{webhook_id:int}/secret", response_model=WebhookWithSecret)
async def rotate_webhook_secret(
    request: Request, webhook_id: WebhookId, principal: Admin
) -> WebhookWithSecret:
    """Replace a webhook's signing secret; the new one is shown this once."""
    return await in_session(
        request, lambda session: service.rotate_secret(session, webhook_id, actor=principal.name)
    )


@router.delete("/{webhook_id:int}", status_code=204)
async def delete_webhook(request: Request, webhook_id: WebhookId, principal: Admin) -> Response:
    """Delete a webhook and its delivery log."""
    await in_session(
        request, lambda session: service.delete(session, webhook_id, actor=principal.name)
    )
    return Response(status_code=204)


@router.get("/{webhook_id:int}/deliveries", response_model=DeliveryPage)
async def list_webhook_deliveries(
    request: Request,
    webhook_id: WebhookId,
    _: Admin,
    status: Annotated[str | None, Query(pattern=r"^(pending|sending|sent|failed)$")] = None,
    event: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    """List a webhook's deliveries, newest first, with each one's last attempt."""
    return await in_session(
        request,
        lambda session: service.list_deliveries(
            session, webhook_id, status=status, event=event, cursor=cursor, limit=limit
        ),
    )


@router.get("/{webhook_id:int}/deliveries/{delivery_id:int}", response_model=DeliveryDetail)
async def get_webhook_delivery(
    request: Request, webhook_id: WebhookId, delivery_id: DeliveryId, _: Admin
) -> DeliveryDetail:
    """Show a delivery with the event it carries."""
    return await in_session(
        request, lambda session: service.get_delivery(session, webhook_id, delivery_id)
    )


@router.post(
    "/{webhook_id:int}/deliveries/{delivery_id:int}/redeliver",
    response_model=DeliveryDetail,
    status_code=202,
)
async def redeliver_webhook_delivery(
    request: Request, webhook_id: WebhookId, delivery_id: DeliveryId, principal: Admin
) -> DeliveryDetail:
    """Queue a delivery's event to its webhook again (the same event id)."""

    def work(session: Session) -> DeliveryDetail:
        new_id = service.redeliver(session, webhook_id, delivery_id, actor=principal.name)
        return service.get_delivery(session, webhook_id, new_id)

    return await in_session(request, work)


@router.post("/{webhook_id:int}/test", response_model=DeliveryDetail)
async def test_webhook(
    request: Request, webhook_id: WebhookId, principal: Admin, settings: AppSettings
) -> DeliveryDetail:
    """Send a `ping` to the webhook now (one attempt) and show how it went."""
    delivery_id = await in_session(
        request, lambda session: service.queue_ping(session, webhook_id, actor=principal.name)
    )
    await run_in_threadpool(
        delivery.deliver_due, request.app.state.db, settings.webhooks, only=delivery_id
    )
    return await in_session(
        request, lambda session: service.get_delivery(session, webhook_id, delivery_id)
    )

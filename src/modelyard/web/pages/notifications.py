"""Admin page for what modelyard sends out: alert notification channels and webhooks.

Channels (a webhook or Slack-compatible URL, a minimum severity) carry alert events; webhooks
carry registry and product events, HMAC-signed. Both are admin-only in the API, and here: the
page answers 403 to others and every form goes through ``FormAdmin``. A webhook's signing
secret is shown once, in the answer to the form that made it. Deleting either needs the
form's confirmation; a test send of a webhook shows how the delivery went.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from modelyard.alerts import service as alerts_service
from modelyard.alerts.schemas import ChannelCreate, ChannelUpdate
from modelyard.auth.schemas import Principal, Role
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import ProblemError
from modelyard.web._render import SECURITY_HEADERS, render
from modelyard.web._session import FormAdmin, PageError, PageUser
from modelyard.webhooks import delivery as webhook_delivery
from modelyard.webhooks import service as webhooks_service
from modelyard.webhooks.schemas import WebhookCreate, WebhookUpdate

router = APIRouter()
ItemId = Annotated[int, Path(ge=1, le=2**62)]


def _errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "form"
        out.setdefault(field, str(err["msg"]))
    return out


def _page(
    request: Request,
    user: Principal,
    session: Session,
    *,
    channel: dict[str, Any] | None = None,
    channel_errors: dict[str, str] | None = None,
    webhook: dict[str, Any] | None = None,
    webhook_errors: dict[str, str] | None = None,
    secret: Any = None,
    test: Any = None,
    status_code: int = 200,
) -> Response:
    context = {
        "channels": alerts_service.list_channels(session),
        "webhooks": webhooks_service.list_webhooks(session),
        "event_types": webhooks_service.event_types(),
        "channel": channel or {"name": "", "kind": "webhook", "url": "", "min_severity": "warning"},
        "channel_errors": channel_errors or {},
        "webhook": webhook or {"name": "", "url": "", "events": "", "models": ""},
        "webhook_errors": webhook_errors or {},
        "secret": secret,
        "test": test,
    }
    return render(request, "admin/notifications.html", context, user=user, status_code=status_code)


def _done(notice: str) -> Response:
    return RedirectResponse(
        f"/admin/notifications?done={notice}", status_code=303, headers=SECURITY_HEADERS
    )


@router.get("/admin/notifications")
def notifications_page(request: Request, user: PageUser, session: DbSession) -> Response:
    """List notification channels and webhooks (admins)."""
    if not user.can(Role.admin):
        raise PageError(403, "Forbidden", f"This needs the admin role; you are {user.role.value}.")
    return _page(request, user, session)


@router.post("/admin/channels")
def add_channel(
    request: Request,
    user: FormAdmin,
    session: DbSession,
    settings: AppSettings,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "webhook",
    url: Annotated[str, Form(max_length=2000)] = "",
    min_severity: Annotated[str, Form(max_length=16)] = "warning",
) -> Response:
    """Add an alert notification channel."""
    values = {"name": name.strip(), "kind": kind, "url": url.strip(), "min_severity": min_severity}
    try:
        data = ChannelCreate.model_validate(values)
        alerts_service.create_channel(session, data, user.name, settings.webhooks.hosts)
    except ValidationError as exc:
        return _page(
            request, user, session, channel=values, channel_errors=_errors(exc), status_code=422
        )
    except ProblemError as exc:
        session.rollback()
        field = "url" if "url" in (exc.detail or "") else "name"
        return _page(
            request,
            user,
            session,
            channel=values,
            channel_errors={field: exc.detail or "Refused."},
            status_code=422,
        )
    return _done("created")


@router.post("/admin/channels/{channel_id}")
def change_channel(
    channel_id: ItemId,
    user: FormAdmin,
    session: DbSession,
    settings: AppSettings,
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Enable or disable a channel."""
    data = ChannelUpdate(enabled=enabled == "yes")
    alerts_service.update_channel(session, channel_id, data, user.name, settings.webhooks.hosts)
    return _done("saved")


@router.post("/admin/channels/{channel_id}/delete")
def delete_channel(
    channel_id: ItemId,
    user: FormAdmin,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Delete a channel and its delivery records, once confirmed."""
    if confirm != "yes":
        raise PageError(400, "Not confirmed", "Deleting a channel needs its confirmation.")
    alerts_service.delete_channel(session, channel_id, user.name)
    return _done("deleted")


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


@router.post("/admin/webhooks")
def add_webhook(
    request: Request,
    user: FormAdmin,
    session: DbSession,
    settings: AppSettings,
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[str, Form(max_length=5000)] = "",
    models: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Add a webhook; the answer shows its signing secret once."""
    values = {"name": name.strip(), "url": url.strip(), "events": events, "models": models}
    try:
        data = WebhookCreate(
            name=values["name"], url=values["url"], events=_list(events), models=_list(models)
        )
        created = webhooks_service.create(
            session, data, actor=user.name, allowed_hosts=settings.webhooks.hosts
        )
    except ValidationError as exc:
        return _page(
            request, user, session, webhook=values, webhook_errors=_errors(exc), status_code=422
        )
    except ProblemError as exc:
        session.rollback()
        field = "url" if "url" in (exc.detail or "") else "name"
        return _page(
            request,
            user,
            session,
            webhook=values,
            webhook_errors={field: exc.detail or "Refused."},
            status_code=422,
        )
    return _page(request, user, session, secret=created)


@router.post("/admin/webhooks/{webhook_id}")
def change_webhook(
    webhook_id: ItemId,
    user: FormAdmin,
    session: DbSession,
    settings: AppSettings,
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Enable or disable a webhook."""
    webhooks_service.update(
        session,
        webhook_id,
        WebhookUpdate(enabled=enabled == "yes"),
        actor=user.name,
        allowed_hosts=settings.webhooks.hosts,
    )
    return _done("saved")


@router.post("/admin/webhooks/{webhook_id}/test")
def test_webhook(
    request: Request,
    webhook_id: ItemId,
    user: FormAdmin,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    """Send a ping to a webhook now and show how it went."""
    delivery_id = webhooks_service.queue_ping(session, webhook_id, actor=user.name)
    session.commit()
    webhook_delivery.deliver_due(request.app.state.db, settings.webhooks, only=delivery_id)
    result = webhooks_service.get_delivery(session, webhook_id, delivery_id)
    return _page(request, user, session, test=result)


@router.post("/admin/webhooks/{webhook_id}/delete")
def delete_webhook(
    webhook_id: ItemId,
    user: FormAdmin,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Delete a webhook, once confirmed."""
    if confirm != "yes":
        raise PageError(400, "Not confirmed", "Deleting a webhook needs its confirmation.")
    webhooks_service.delete(session, webhook_id, actor=user.name)
    return _done("deleted")

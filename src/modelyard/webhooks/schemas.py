"""Input and output shapes of the webhook endpoints, and the event types a webhook may take."""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

WEBHOOK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

EVENT_TYPES: dict[str, str] = {
    "model.created": "A model was registered.",
    "model.deleted": "A model was deleted with its versions.",
    "version.created": "A version was added to a model.",
    "version.deleted": "A version was deleted.",
    "alias.moved": "An alias was set, or moved to another version (`previous` names the old one).",
    "alias.deleted": "An alias was removed.",
    "evaluation.finished": "An evaluation ended: succeeded (with its metrics), failed or cancelled.",
    "drift.found": "A drift check found the current dataset drifted from its reference.",
    "alert.fired": "An alert opened (a rule, a deployment's own alert, or drift).",
    "alert.resolved": "An open alert was resolved.",
    "ping": "A test delivery (POST /api/webhooks/{id}/test); sent whatever the filters.",
}


def _http_url(url: str | None) -> str | None:
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


def _event_patterns(events: list[str] | None) -> list[str] | None:
    if events is None:
        return None
    for pattern in events:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in EVENT_TYPES):
            known = ", ".join(EVENT_TYPES)
            raise ValueError(
                f"{pattern!r} matches no event type; use one of {known} (or 'alias.*')"
            )
    return sorted(set(events))


def _model_patterns(models: list[str] | None) -> list[str] | None:
    return sorted(set(models)) if models is not None else None


ModelPattern = Annotated[str, Field(min_length=1, max_length=200)]


class WebhookFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        None, min_length=8, max_length=2000, description="Where the POST goes (http or https)."
    )
    events: list[str] | None = Field(
        None,
        max_length=50,
        description="Event types to send (shell patterns such as `alias.*` allowed); "
        "empty: every type.",
    )
    models: list[ModelPattern] | None = Field(
        None,
        max_length=100,
        description="Model names or shell patterns (`smax-*`); empty: events of every model "
        "and those of none (alerts, drift). Otherwise only events of a matching model.",
    )
    description: str | None = Field(
        None, max_length=2000, description="What the receiver does with the events."
    )
    enabled: bool | None = Field(
        default=None, description="A disabled webhook is kept but sends nothing."
    )

    _url = field_validator("url")(_http_url)
    _events = field_validator("events")(_event_patterns)
    _models = field_validator("models")(_model_patterns)


class WebhookCreate(WebhookFields):
    name: str = Field(
        pattern=WEBHOOK_NAME_PATTERN, description="Unique name: letters, digits, _ . -."
    )
    url: str = Field(min_length=8, max_length=2000, description="Where the POST goes.")
    events: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Event types to send (see GET /api/webhooks/events), or patterns like `alias.*`; empty: every type.",
    )
    models: list[ModelPattern] = Field(
        default_factory=list,
        max_length=100,
        description="Model names or shell patterns (`smax-*`); empty: events of every model.",
    )
    description: str = Field(
        "", max_length=2000, description="What the receiver does with the events."
    )
    enabled: bool = Field(default=True, description="A disabled webhook is kept but sends nothing.")
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="The HMAC key; omit it and the server makes one (returned once).",
    )


class WebhookUpdate(WebhookFields):
    """Fields to change (the secret changes with POST /api/webhooks/{id}/secret)."""

    name: str | None = Field(
        None, pattern=WEBHOOK_NAME_PATTERN, description="A new name; null keeps it."
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The webhook's id.")
    name: str = Field(description="Its unique name.")
    url: str = Field(description="Where the POST goes.")
    events: list[str] = Field(description="Event types or patterns sent; empty: every type.")
    models: list[str] = Field(description="Model names or patterns; empty: every model.")
    description: str = Field(description="What the receiver does with the events.")
    enabled: bool = Field(description="Whether it sends.")
    secret_hint: str = Field(description="The secret's last four characters.")
    created_by: str = Field(description="The user who made it.")
    created_at: dt.datetime = Field(description="When it was made (UTC).")
    updated_at: dt.datetime = Field(description="When it last changed (UTC).")


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="Shown now only: keep it where the receiver checks bodies.")


class DeliveryOut(BaseModel):
    id: int = Field(description="The delivery's id.")
    webhook_id: int | None = Field(
        description="The webhook it goes to; null for an alert channel's."
    )
    event: str = Field(description="The event type, e.g. `alias.moved`.")
    event_id: str = Field(description="The same for every delivery and retry of one event.")
    model: str | None = Field(description="The model the event concerns, if any.")
    status: str = Field(description="pending, sending, sent or failed.")
    attempts: int = Field(description="Attempts made so far.")
    response_status: int | None = Field(
        description="The receiver's last HTTP status, if it answered."
    )
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    duration_ms: float | None = Field(
        description="How long the last attempt took, in milliseconds."
    )
    next_attempt_at: dt.datetime = Field(description="When it is tried next (UTC).")
    created_at: dt.datetime = Field(description="When it was queued (UTC).")
    sent_at: dt.datetime | None = Field(description="When it was delivered (UTC); null until then.")


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="The event document (the body's `data`).")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut] = Field(description="This page's deliveries, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class EventTypeOut(BaseModel):
    name: str = Field(description="The event type, e.g. `version.created`.")
    description: str = Field(description="When it is sent.")

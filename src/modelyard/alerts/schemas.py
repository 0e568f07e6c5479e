"""Input and output of the alerts API: rules, events, notification channels and deliveries."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class Metric(StrEnum):
    cpu_percent = "cpu_percent"
    """Busy CPU: the host's share of all cores, or a process's (100 = one core)."""
    memory_percent = "memory_percent"
    """Memory in use on the host, or one process's resident memory as a share of the host's."""
    rss_mb = "rss_mb"
    """Resident memory of each server process, in MiB."""
    disk_percent = "disk_percent"
    """Used space on the filesystem holding the data directory."""
    request_latency_p99_ms = "request_latency_p99_ms"
    """99th percentile of API request time over the rule's window, per server process."""
    job_queue_wait_seconds = "job_queue_wait_seconds"
    """Age of the oldest job that could run but has not started."""
    prediction_error_pct = "prediction_error_pct"
    """Median |prediction error| of each active deployment's serving version over its recent
    scored windows: one threshold for the whole fleet, besides each deployment's own."""


class Scope(StrEnum):
    host = "host"
    process = "process"
    deployment = "deployment"


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return ("info", "warning", "critical").index(self.value)


Comparison = Literal[">", ">=", "<", "<="]

# Which scopes each metric has: a disk or a queue belongs to the host, request timing to a process.
METRIC_SCOPES: dict[Metric, tuple[Scope, ...]] = {
    Metric.cpu_percent: (Scope.host, Scope.process),
    Metric.memory_percent: (Scope.host, Scope.process),
    Metric.rss_mb: (Scope.process,),
    Metric.disk_percent: (Scope.host,),
    Metric.request_latency_p99_ms: (Scope.process,),
    Metric.job_queue_wait_seconds: (Scope.host,),
    Metric.prediction_error_pct: (Scope.deployment,),
}

RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comparison: Comparison | None = Field(
        default=None, description="How a reading is compared with `threshold`: >, >=, < or <=."
    )
    threshold: float | None = Field(
        default=None, description="The value a reading is compared with, in the metric's unit."
    )
    for_seconds: float | None = Field(
        None, ge=0, le=7 * 86400, description="The condition must hold this long before firing."
    )
    window_seconds: float | None = Field(
        None, ge=10, le=86400, description="Window of `request_latency_p99_ms`."
    )
    severity: Severity | None = Field(default=None, description="info, warning or critical.")
    enabled: bool | None = Field(
        default=None, description="A disabled rule is kept but never fires."
    )
    description: str | None = Field(
        None, max_length=2000, description="What the rule watches and what to do when it fires."
    )

    @field_validator("threshold")
    @classmethod
    def _threshold_finite(cls, value: float | None) -> float | None:
        return _finite(value)


class RuleCreate(RuleFields):
    name: str = Field(pattern=RULE_NAME, description="Unique name, e.g. `host-cpu-high`.")
    metric: Metric = Field(description="What is measured (see the metric list in the README).")
    scope: Scope | None = Field(
        None, validate_default=True, description="Defaults to the metric's first scope."
    )
    comparison: Comparison = Field(
        default=">", description="How a reading is compared with `threshold`: >, >=, < or <=."
    )
    threshold: float = Field(
        description="The value a reading is compared with, in the metric's unit."
    )
    for_seconds: float = Field(
        0.0, ge=0, le=7 * 86400, description="The condition must hold this long before firing."
    )
    window_seconds: float = Field(
        300.0, ge=10, le=86400, description="Window of `request_latency_p99_ms`."
    )
    severity: Severity = Field(default=Severity.warning, description="info, warning or critical.")
    enabled: bool = Field(default=True, description="A disabled rule is kept but never fires.")
    description: str = Field(
        "", max_length=2000, description="What the rule watches and what to do when it fires."
    )

    @field_validator("scope", mode="after")
    @classmethod
    def _scope_fits_metric(cls, scope: Scope | None, info: ValidationInfo) -> Scope | None:
        metric = info.data.get("metric")
        if metric is not None and scope is None:
            return METRIC_SCOPES[metric][0]
        if metric is not None and scope is not None and scope not in METRIC_SCOPES[metric]:
            allowed = ", ".join(s.value for s in METRIC_SCOPES[metric])
            raise ValueError(f"{metric.value} is measured per {allowed}, not per {scope.value}")
        return scope


class RuleUpdate(RuleFields):
    """Fields to change; the metric and scope of a rule are fixed (make a new rule instead)."""


class RuleOut(BaseModel):
    id: int = Field(description="The rule's id.")
    name: str = Field(description="Its unique name.")
    metric: str = Field(description="What is measured.")
    scope: str = Field(description="Per host, per server process or per deployment.")
    comparison: str = Field(description="How a reading is compared with `threshold`.")
    threshold: float = Field(description="The value a reading is compared with.")
    for_seconds: float = Field(description="How long the condition must hold before firing.")
    window_seconds: float = Field(description="Window of `request_latency_p99_ms`.")
    severity: str = Field(description="info, warning or critical.")
    enabled: bool = Field(description="Whether it is evaluated.")
    description: str = Field(description="What the rule watches.")
    created_by: str = Field(description="The user who made it.")
    created_at: dt.datetime = Field(description="When it was made (UTC).")
    updated_at: dt.datetime = Field(description="When it last changed (UTC).")


class EventOut(BaseModel):
    id: int = Field(description="The event's id.")
    source: str = Field(description="What raised it: a rule, or a deployment's own checks.")
    kind: str = Field(description="What happened, e.g. `threshold` or `prediction_error`.")
    subject: str = Field(description="What it is about: a host, a process or a deployment.")
    severity: str = Field(description="info, warning or critical.")
    message: str = Field(description="One sentence for people.")
    detail: dict[str, Any] = Field(description="Machine-readable facts behind the message.")
    value: float | None = Field(description="The reading that fired it, if any.")
    threshold: float | None = Field(description="The threshold it crossed, if any.")
    rule_id: int | None = Field(
        description="The rule that fired it; null for a deployment's own alert."
    )
    rule: str | None = Field(description="That rule's name.")
    deployment_id: int | None = Field(description="The deployment it concerns, if any.")
    deployment: str | None = Field(description="That deployment's name.")
    raised_at: dt.datetime = Field(description="When it fired (UTC).")
    resolved_at: dt.datetime | None = Field(
        description="When the condition cleared (UTC); null while it holds."
    )
    acknowledged_by: str | None = Field(description="Who acknowledged it; null if nobody has.")
    acknowledged_at: dt.datetime | None = Field(description="When it was acknowledged (UTC).")
    count: int = Field(1, description="Firings grouped into this event (it cleared and came back).")
    last_raised_at: dt.datetime | None = Field(
        None, description="When it last fired again (UTC); null while it fired once."
    )


class EventPage(BaseModel):
    items: list[EventOut] = Field(description="This page's events, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class ChannelKind(StrEnum):
    webhook = "webhook"
    slack = "slack"
    alertmanager = "alertmanager"
    """Prometheus Alertmanager: the URL is the server (``http://am:9093``) or its
    ``/api/v2/alerts``; each transition is posted as a v2 alert list."""


def _http_url(url: str | None) -> str | None:
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


class ChannelFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        None, min_length=8, max_length=2000, description="Where the POST goes (http or https)."
    )
    min_severity: Severity | None = Field(
        default=None, description="Send events this severe or worse."
    )
    send_resolved: bool | None = Field(
        default=None, description="Also send when an event resolves."
    )
    enabled: bool | None = Field(default=None, description="A disabled channel sends nothing.")

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return _http_url(value)


class ChannelCreate(ChannelFields):
    name: str = Field(pattern=RULE_NAME, description="Unique name, e.g. `ops-slack`.")
    kind: ChannelKind = Field(
        default=ChannelKind.webhook,
        description="webhook (JSON) or slack (an incoming-webhook message).",
    )
    url: str = Field(min_length=8, max_length=2000, description="Where the POST goes.")
    min_severity: Severity = Field(Severity.info, description="Send events this severe or worse.")
    send_resolved: bool = Field(default=True, description="Also send when an event resolves.")
    enabled: bool = Field(default=True, description="A disabled channel sends nothing.")


class ChannelUpdate(ChannelFields):
    """Fields to change."""


class ChannelOut(BaseModel):
    id: int = Field(description="The channel's id.")
    name: str = Field(description="Its unique name.")
    kind: str = Field(description="webhook or slack.")
    url: str = Field(description="Where the POST goes.")
    min_severity: str = Field(description="Events this severe or worse are sent.")
    send_resolved: bool = Field(description="Whether resolutions are sent too.")
    enabled: bool = Field(description="Whether it sends.")
    created_by: str = Field(description="The user who made it.")
    created_at: dt.datetime = Field(description="When it was made (UTC).")


class AlertDeliveryOut(BaseModel):
    id: int = Field(description="The delivery's id.")
    event_id: int = Field(description="The event it carries.")
    channel: str = Field(description="The channel it goes to.")
    transition: str = Field(description="fired or resolved.")
    status: str = Field(description="pending, sent or failed.")
    attempts: int = Field(description="Attempts made so far.")
    response_status: int | None = Field(
        description="The receiver's last HTTP status, if it answered."
    )
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    next_attempt_at: dt.datetime = Field(description="When it is tried next (UTC).")
    created_at: dt.datetime = Field(description="When it was queued (UTC).")
    sent_at: dt.datetime | None = Field(description="When it was delivered (UTC); null until then.")


class TickOut(BaseModel):
    fired: list[int] = Field(description="Ids of the events this tick raised.")
    resolved: list[int] = Field(description="Ids of the events this tick resolved.")
    delivered: int = Field(description="Deliveries sent.")
    failed: int = Field(description="Deliveries that failed for good.")
    readings: dict[str, dict[str, float]] = Field(description="Scope -> metric -> the value read.")
    leads: list[str] = Field(
        default_factory=list, description="Shared scopes this process evaluated: host, deployment."
    )

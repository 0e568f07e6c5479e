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

    comparison: Comparison | None = None
    threshold: float | None = None
    for_seconds: float | None = Field(
        None, ge=0, le=7 * 86400, description="The condition must hold this long before firing."
    )
    window_seconds: float | None = Field(
        None, ge=10, le=86400, description="Window of `request_latency_p99_ms`."
    )
    severity: Severity | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=2000)

    @field_validator("threshold")
    @classmethod
    def _threshold_finite(cls, value: float | None) -> float | None:
        return _finite(value)


class RuleCreate(RuleFields):
    name: str = Field(pattern=RULE_NAME, description="Unique name, e.g. `host-cpu-high`.")
    metric: Metric
    scope: Scope | None = Field(
        None, validate_default=True, description="Defaults to the metric's first scope."
    )
    comparison: Comparison = ">"
    threshold: float
    for_seconds: float = Field(0.0, ge=0, le=7 * 86400)
    window_seconds: float = Field(300.0, ge=10, le=86400)
    severity: Severity = Severity.warning
    enabled: bool = True
    description: str = Field("", max_length=2000)

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
    id: int
    name: str
    metric: str
    scope: str
    comparison: str
    threshold: float
    for_seconds: float
    window_seconds: float
    severity: str
    enabled: bool
    description: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class EventOut(BaseModel):
    id: int
    source: str
    kind: str
    subject: str
    severity: str
    message: str
    detail: dict[str, Any]
    value: float | None
    threshold: float | None
    rule_id: int | None
    rule: str | None
    deployment_id: int | None
    deployment: str | None
    raised_at: dt.datetime
    resolved_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class ChannelKind(StrEnum):
    webhook = "webhook"
    slack = "slack"


def _http_url(url: str | None) -> str | None:
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


class ChannelFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=8, max_length=2000)
    min_severity: Severity | None = None
    send_resolved: bool | None = None
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return _http_url(value)


class ChannelCreate(ChannelFields):
    name: str = Field(pattern=RULE_NAME)
    kind: ChannelKind = ChannelKind.webhook
    url: str = Field(min_length=8, max_length=2000, description="Where the POST goes.")
    min_severity: Severity = Field(Severity.info, description="Send events this severe or worse.")
    send_resolved: bool = True
    enabled: bool = True


class ChannelUpdate(ChannelFields):
    """Fields to change."""


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str
    min_severity: str
    send_resolved: bool
    enabled: bool
    created_by: str
    created_at: dt.datetime


class AlertDeliveryOut(BaseModel):
    id: int
    event_id: int
    channel: str
    transition: str
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    sent_at: dt.datetime | None


class TickOut(BaseModel):
    fired: list[int]
    resolved: list[int]
    delivered: int
    failed: int
    readings: dict[str, dict[str, float]]
    leads: list[str] = Field(
        default_factory=list, description="Shared scopes this process evaluated: host, deployment."
    )

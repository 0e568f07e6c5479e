"""Prometheus figures of the alerts themselves."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ALERTS_OPEN = Gauge(
    "modelyard_alerts_open",
    "Alert events not yet resolved, by source and severity.",
    ["source", "severity"],
    multiprocess_mode="max",
)
ALERTS_FIRED = Counter(
    "modelyard_alerts_fired_total",
    "Alert events raised, by source and severity.",
    ["source", "severity"],
)
EVALUATION_SECONDS = Gauge(
    "modelyard_alerts_evaluation_seconds",
    "Time the last evaluation of the alert rules took.",
    multiprocess_mode="max",
)

"""Prometheus figures of the delivery queue."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "modelyard_deliveries_total",
    "Delivery attempts, by subscriber kind (webhook, alert_webhook, alert_slack) and outcome "
    "(sent, retry, failed).",
    ["kind", "outcome"],
)

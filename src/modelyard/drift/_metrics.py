"""Prometheus gauge of drift checks: the share of columns that drifted, per dataset pair."""

from __future__ import annotations

from prometheus_client import Gauge

SHARE_DRIFTED = Gauge(
    "modelyard_drift_share_drifted",
    "Share of compared columns that drifted in the latest check of a reference/current pair.",
    ["reference", "current"],
    multiprocess_mode="mostrecent",
)

"""Prometheus gauges of deployments, labelled by deployment, model and version.

Set by the live loop after each evaluated interval. A deployment is followed by one process
at a time (the target's lease), and after a lease moves the new process writes on, so
across processes each series is the most recent live value (``livemostrecent``); tuning
adjustments are a counter, summed across processes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["observe"]

LABELS = ["deployment", "model", "version"]


def _gauge(name: str, documentation: str) -> Gauge:
    return Gauge(name, documentation, LABELS, multiprocess_mode="livemostrecent")


PREDICTED = _gauge("modelyard_deployment_predicted_smax", "Predicted S_max (ops/s) served.")
PREDICTED_P10 = _gauge(
    "modelyard_deployment_predicted_smax_p10", "Lower bound (p10) of the predicted S_max (ops/s)."
)
PREDICTED_P90 = _gauge(
    "modelyard_deployment_predicted_smax_p90", "Upper bound (p90) of the predicted S_max (ops/s)."
)
ACHIEVED = _gauge(
    "modelyard_deployment_achieved_ops_per_second", "Rate the target achieved (ops/s)."
)
OFFERED = _gauge("modelyard_deployment_offered_ops_per_second", "Rate offered to the target.")
ERROR = _gauge(
    "modelyard_deployment_error_percent",
    "Prediction error on the last saturated window: (predicted - measured) / measured, %.",
)
HEADROOM = _gauge(
    "modelyard_deployment_headroom_ratio", "Predicted S_max over the offered (else achieved) rate."
)
HEADROOM_P10 = _gauge(
    "modelyard_deployment_headroom_p10_ratio",
    "The p10 of predicted S_max over the offered rate: what low-headroom alerts judge.",
)
BELOW_SUSTAINED = _gauge(
    "modelyard_deployment_below_sustained",
    "1 when the prediction is below a rate the target sustained unsaturated (provably wrong).",
)
COVERAGE = _gauge(
    "modelyard_deployment_interval_coverage_ratio",
    "Share of saturated windows whose measured S_max fell inside the p10-p90 interval.",
)
TUNING_UPDATES = Counter(
    "modelyard_deployment_tuning_updates_total",
    "Tuning adjustments applied to a deployment's parameters.",
    LABELS,
)


def observe(
    deployment: str,
    version_label: str | None,
    values: dict[str, float | None],
    coverage: float | None,
    *,
    tuned: bool,
) -> None:
    """Set a deployment's gauges from one evaluated interval (``version_label`` is
    ``model/version``)."""
    if not version_label:
        return
    model, _, version = version_label.rpartition("/")
    labels = (deployment, model, version)
    for gauge, key in (
        (PREDICTED, "predicted"),
        (PREDICTED_P10, "predicted_p10"),
        (PREDICTED_P90, "predicted_p90"),
        (ACHIEVED, "achieved"),
        (OFFERED, "offered"),
        (ERROR, "error_pct"),
        (HEADROOM, "headroom"),
        (HEADROOM_P10, "headroom_p10"),
        (BELOW_SUSTAINED, "below_sustained"),
    ):
        value = values.get(key)
        if value is not None:
            gauge.labels(*labels).set(value)
    if coverage is not None:
        COVERAGE.labels(*labels).set(coverage)
    if tuned:
        TUNING_UPDATES.labels(*labels).inc()
    else:
        TUNING_UPDATES.labels(*labels)  # the series exists (at 0) from the first interval

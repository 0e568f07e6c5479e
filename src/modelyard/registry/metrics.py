"""The metrics a version can carry and which way each is better.

Evaluations compute them and write the headline ones onto versions; leaderboards rank by
them; a protected alias's gate compares them. The registry is the lowest of those layers, so
the rules live here and :mod:`modelyard.evaluations.metrics` re-exports them.
"""

from __future__ import annotations

import math

__all__ = [
    "CLOSER_TO_ZERO_IS_BETTER",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "direction",
    "rank_of",
]

LOWER_IS_BETTER = frozenset(
    {"mae", "rmse", "mape", "max_error", "error_p50", "error_p90", "error_p95", "error_p99"}
)
HIGHER_IS_BETTER = frozenset({"r2", "accuracy", "precision", "recall", "f1", "roc_auc"})
CLOSER_TO_ZERO_IS_BETTER = frozenset({"mean_error"})


def direction(metric: str) -> str | None:
    """``lower``, ``higher``, ``zero`` (closest to 0 wins) or None (not comparable)."""
    if metric in LOWER_IS_BETTER:
        return "lower"
    if metric in HIGHER_IS_BETTER:
        return "higher"
    if metric in CLOSER_TO_ZERO_IS_BETTER:
        return "zero"
    return None


def rank_of(metric: str, value: object) -> float | None:
    """``value`` ordered so that smaller is better, or None when the metric is not ranked or
    the value is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    way = direction(metric)
    if way == "lower":
        return float(value)
    if way == "higher":
        return -float(value)
    if way == "zero":
        return abs(float(value))
    return None

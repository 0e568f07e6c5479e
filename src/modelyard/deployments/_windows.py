"""The unit a deployment is scored on: a window of intervals of one configuration.

A saturated window measured S_max (the rate achieved over it); an unsaturated one only shows
that S_max is at least that rate (censored). :func:`abs_error` turns a prediction and a window
into an absolute error where the window can say anything.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from modelyard.targets.base import Interval

__all__ = ["IntervalWindow", "ScoredWindow", "abs_error"]


@dataclass
class ScoredWindow:
    features: dict[str, Any]
    actual: float
    """Measured S_max (saturated), or the rate sustained (unsaturated: a lower bound)."""
    config_key: str = ""


class IntervalWindow:
    """The last ``size`` intervals of one configuration: the unit predictions are scored on.

    One second of a stalling LSM swings between a burst and a stop; a window of several
    intervals measures the rate the system sustains. The window restarts when the workload or
    options change, so it never mixes two configurations.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.slots: deque[tuple[float, float, bool | None, float | None]] = deque(maxlen=size)
        self.config_key = ""

    def add(self, interval: Interval) -> None:
        key = repr(sorted((k, v) for k, v in interval.configuration.items() if k != "phase_index"))
        if key != self.config_key:
            self.slots.clear()
            self.config_key = key
        ops = float(interval.metrics.get("ops_per_sec", 0.0)) * interval.seconds
        self.slots.append(
            (ops, interval.seconds, interval.saturated, interval.metrics.get("cpu_available_cores"))
        )

    @property
    def full(self) -> bool:
        return len(self.slots) == self.size

    @property
    def achieved(self) -> float:
        seconds = sum(s[1] for s in self.slots)
        return sum(s[0] for s in self.slots) / seconds if seconds > 0 else 0.0

    @property
    def saturated(self) -> bool | None:
        flags = [s[2] for s in self.slots]
        if any(f is None for f in flags):
            return None
        if all(flags):
            return True
        return False if not any(flags) else None

    @property
    def cores(self) -> float | None:
        values = [s[3] for s in self.slots if s[3] is not None]
        return sum(values) / len(values) if values else None

    @property
    def cores_cv(self) -> float | None:
        """Coefficient of variation of the CPU available over the window."""
        values = [s[3] for s in self.slots if s[3] is not None]
        if len(values) < 2:
            return None
        mean = sum(values) / len(values)
        if mean <= 0:
            return None
        variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
        return math.sqrt(variance) / mean


def abs_error(predicted: float, achieved: float, saturated: bool | None) -> float | None:
    """|error| in percent where the interval can say anything: saturated, or a violated bound."""
    if achieved <= 0:
        return None
    if saturated:
        return abs(predicted - achieved) / achieved * 100.0
    if saturated is False and predicted < achieved:
        return (achieved - predicted) / achieved * 100.0
    if saturated is False:
        return 0.0
    return None

"""Prediction intervals of a deployment: how far measured S_max has been from the prediction, in log terms.

S_max errors are multiplicative (a model 2x high and one 2x low are equally wrong), so the
spread is kept on ``log(actual / predicted)`` of saturated windows, as an exponentially
weighted mean square (bias included: a model that is consistently off gets a wide interval,
which is what it deserves). The p10-p90 interval around a prediction ``p`` is
``p * exp(-/+ z80 * sigma)`` with ``sigma^2`` the sum of this spread, the tuner's uncertainty in
its correction, and the relative variance of the CPU available (S_max follows the CPU when
compaction CPU is the limit). A sustained rate is a hard floor: the lower bound never goes
under it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Z80", "PredictionSpread", "prediction_interval"]

Z80 = 1.2815515655446004
"""The standard normal's 90th percentile: p10-p90 is +/- this many sigma."""


@dataclass
class PredictionSpread:
    mean_square: float = 0.09
    """Prior: about +/-30 % (log 1.35 ~ 0.3) before any saturated window."""
    weight: float = 0.15
    updates: int = 0

    def update(self, predicted: float, actual: float) -> None:
        if predicted <= 0 or actual <= 0:
            return
        residual = min(abs(math.log(actual / predicted)), 2.0)
        self.mean_square += self.weight * (residual * residual - self.mean_square)
        self.updates += 1

    def to_dict(self) -> dict[str, Any]:
        return {"mean_square": self.mean_square, "weight": self.weight, "updates": self.updates}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictionSpread:
        return cls(float(data["mean_square"]), float(data["weight"]), int(data.get("updates", 0)))


def prediction_interval(
    predicted: float, variance: float, *, floor: float | None = None
) -> tuple[float, float]:
    """The p10 and p90 of S_max around ``predicted`` for a log-variance; a known sustained
    rate ``floor`` truncates the lower bound."""
    sigma = math.sqrt(max(variance, 0.0))
    lower = predicted * math.exp(-Z80 * sigma)
    upper = predicted * math.exp(Z80 * sigma)
    if floor is not None and floor > lower:
        lower = floor
        upper = max(upper, floor)
    return lower, upper

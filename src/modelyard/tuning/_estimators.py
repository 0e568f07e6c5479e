"""Online estimators: recursive least squares with forgetting, and a scalar Kalman filter.

Both are pure numpy and serialise to plain dicts, so a deployment's tuner survives restarts.

``RecursiveLeastSquares`` fits y = theta . x with exponential forgetting (``lam`` ~ 0.9-0.99:
an observation's weight halves every ln 2 / (1 - lam) updates). Under forgetting, a direction
the data never excites (two regressors that move together, as records and bytes do while the
value size is fixed) would see its covariance grow without bound and the next surprising
observation swing the estimate wildly; the covariance trace is therefore capped.
Estimates are kept inside ``[lower, upper]`` (costs cannot be negative).

``ScalarKalman`` tracks a random-walk state (process noise ``q`` per step, measurement noise
``r``): used on the log of a multiplicative correction, so it stays positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["RecursiveLeastSquares", "ScalarKalman"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class RecursiveLeastSquares:
    theta: FloatArray
    covariance: FloatArray
    lam: float = 0.95
    max_trace: float = 1e6
    lower: float = 0.0
    upper: float = math.inf
    updates: int = 0

    @classmethod
    def start(
        cls,
        initial: list[float],
        *,
        relative_uncertainty: float = 1.0,
        lam: float = 0.95,
        scales: list[float] | None = None,
    ) -> RecursiveLeastSquares:
        """Start from a prior: each coefficient within ``relative_uncertainty`` of ``initial``.

        ``scales`` (defaults to the initial values) set the covariance in each coefficient's
        own units, so coefficients of very different magnitudes are handled alike.
        """
        theta = np.asarray(initial, dtype=float)
        scale = np.asarray(scales if scales is not None else initial, dtype=float)
        scale = np.where(np.abs(scale) > 0, np.abs(scale), 1e-12)
        covariance = np.diag((relative_uncertainty * scale) ** 2)
        return cls(theta, covariance, lam, max_trace=float(np.trace(covariance)) * 100.0)

    def update(self, x: list[float] | FloatArray, y: float) -> float:
        """Add one observation; returns the prediction error before the update."""
        xv = np.asarray(x, dtype=float)
        residual = float(y - xv @ self.theta)
        px = self.covariance @ xv
        gain = px / (self.lam + float(xv @ px))
        self.theta = np.clip(self.theta + gain * residual, self.lower, self.upper)
        self.covariance = (self.covariance - np.outer(gain, px)) / self.lam
        self.covariance = (self.covariance + self.covariance.T) / 2.0
        trace = float(np.trace(self.covariance))
        if trace > self.max_trace:
            self.covariance *= self.max_trace / trace
        self.updates += 1
        return residual

    def predict(self, x: list[float] | FloatArray) -> float:
        return float(np.asarray(x, dtype=float) @ self.theta)

    def to_dict(self) -> dict[str, Any]:
        return {
            "theta": self.theta.tolist(),
            "covariance": self.covariance.tolist(),
            "lam": self.lam,
            "max_trace": self.max_trace,
            "lower": self.lower,
            "upper": None if math.isinf(self.upper) else self.upper,
            "updates": self.updates,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecursiveLeastSquares:
        upper = data.get("upper")
        return cls(
            np.asarray(data["theta"], dtype=float),
            np.asarray(data["covariance"], dtype=float),
            float(data["lam"]),
            float(data["max_trace"]),
            float(data.get("lower", 0.0)),
            math.inf if upper is None else float(upper),
            int(data.get("updates", 0)),
        )


@dataclass
class ScalarKalman:
    value: float
    variance: float
    q: float = 0.01
    r: float = 0.04
    updates: int = 0
    history: list[float] = field(default_factory=list)

    def update(self, measurement: float, r: float | None = None) -> float:
        """Predict (random walk), then correct with one measurement; returns the innovation."""
        variance = self.variance + self.q
        noise = self.r if r is None else r
        innovation = measurement - self.value
        gain = variance / (variance + noise)
        self.value += gain * innovation
        self.variance = (1.0 - gain) * variance
        self.updates += 1
        return innovation

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "variance": self.variance,
            "q": self.q,
            "r": self.r,
            "updates": self.updates,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScalarKalman:
        return cls(
            float(data["value"]),
            float(data["variance"]),
            float(data["q"]),
            float(data["r"]),
            int(data.get("updates", 0)),
        )

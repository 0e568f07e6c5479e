"""The online tuner of a deployed S_max model's cost parameters.

Observations (all measurable at any load, saturated or not):

- each finished compaction (LOG ``compaction_finished``): CPU-seconds against records and bytes
  read + written -> ``compaction_cpu_sec_per_record`` and ``compaction_cpu_sec_per_byte``;
- each interval's flush thread CPU against the entries and bytes flushed ->
  ``flush_cpu_sec_per_record`` and ``flush_cpu_sec_per_byte``;
- each interval's foreground (client) thread CPU against operations and bytes put ->
  ``foreground_cpu_sec_per_op`` and ``foreground_cpu_sec_per_byte``;
- write amplification from the ticker deltas (tracked and reported as evidence);

and, only on saturated intervals, where the achieved rate IS the capacity, the ratio of measured
to predicted S_max -> ``correction_factor`` (a Kalman filter on its logarithm).

An unsaturated interval is censored: the target sustained rate r without running out, so all it
says is S_max >= r. That is a constraint, not a measurement (:meth:`OnlineTuner.observe_censored`):
when the prediction is below r, the correction's estimate is projected onto the feasible side
(the constrained Kalman filter's estimate projection), and it is left alone otherwise.

Each group is tuned only when the model's parameters have its keys. The tuner holds estimates;
the deployment decides when to apply them and records each adjustment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from modelyard.tuning._estimators import RecursiveLeastSquares, ScalarKalman

__all__ = ["GROUPS", "OnlineTuner", "TunerSettings"]

GROUPS: dict[str, tuple[str, str]] = {
    "compaction": ("compaction_cpu_sec_per_record", "compaction_cpu_sec_per_byte"),
    "flush": ("flush_cpu_sec_per_record", "flush_cpu_sec_per_byte"),
    "foreground": ("foreground_cpu_sec_per_op", "foreground_cpu_sec_per_byte"),
}
CORRECTION = "correction_factor"


@dataclass(frozen=True)
class TunerSettings:
    forgetting: float = 0.9
    correction_q: float = 0.01
    correction_r: float = 0.05
    min_flush_entries: int = 1000
    min_ops: int = 100


class OnlineTuner:
    def __init__(self, initial: dict[str, float], settings: TunerSettings | None = None) -> None:
        self.settings = settings or TunerSettings()
        self.rls: dict[str, RecursiveLeastSquares] = {}
        for group, keys in GROUPS.items():
            if all(k in initial for k in keys):
                values = [float(initial[k]) for k in keys]
                # a zero prior (no per-byte cost known) still needs a scale to move from
                scales = [
                    v if v > 0 else (values[0] / 100.0 if i else 1e-7) for i, v in enumerate(values)
                ]
                self.rls[group] = RecursiveLeastSquares.start(
                    values, relative_uncertainty=1.0, lam=self.settings.forgetting, scales=scales
                )
        self.correction: ScalarKalman | None = None
        if CORRECTION in initial:
            self.correction = ScalarKalman(
                math.log(max(float(initial[CORRECTION]), 1e-6)),
                0.25,
                self.settings.correction_q,
                self.settings.correction_r,
            )
        self.write_amp = ScalarKalman(0.0, 100.0, 0.05, 1.0)
        self.counts: dict[str, int] = {
            "compaction": 0,
            "flush": 0,
            "foreground": 0,
            "correction": 0,
            "censored": 0,
        }

    @property
    def keys(self) -> list[str]:
        keys = [k for group in self.rls for k in GROUPS[group]]
        return keys + ([CORRECTION] if self.correction is not None else [])

    def observe(self, evidence: dict[str, Any]) -> None:
        """Use one interval's observations that do not depend on saturation."""
        rls = self.rls.get("compaction")
        if rls is not None:
            for event in evidence.get("compactions", []):
                bytes_in = event.get("bytes_in")
                if bytes_in is None or event.get("cpu_sec", 0) <= 0:
                    continue
                records = float(event["records_in"]) + float(event["records_out"])
                nbytes = float(bytes_in) + float(event["bytes_out"])
                rls.update([records, nbytes], float(event["cpu_sec"]))
                self.counts["compaction"] += 1
        rls = self.rls.get("flush")
        flush_cpu = evidence.get("cpu_flush_sec")
        entries = float(evidence.get("flush_entries", 0))
        tickers = evidence.get("tickers", {})
        if rls is not None and flush_cpu is not None and entries >= self.settings.min_flush_entries:
            rls.update([entries, float(tickers.get("flush_bytes", 0))], float(flush_cpu))
            self.counts["flush"] += 1
        rls = self.rls.get("foreground")
        fg_cpu = evidence.get("cpu_foreground_sec")
        ops = float(evidence.get("ops", 0))
        if rls is not None and fg_cpu is not None and ops >= self.settings.min_ops:
            rls.update([ops, float(tickers.get("user_bytes", 0))], float(fg_cpu))
            self.counts["foreground"] += 1
        user = float(tickers.get("user_bytes", 0))
        if user > 0:
            written = float(tickers.get("flush_bytes", 0)) + float(
                tickers.get("compaction_write_bytes", 0)
            )
            self.write_amp.update(written / user)

    def observe_saturated(self, predicted: float, actual: float, correction_in_use: float) -> None:
        """A saturated interval measured S_max: move the correction toward actual/predicted."""
        if self.correction is None or predicted <= 0 or actual <= 0:
            return
        ratio = max(-1.0, min(1.0, math.log(actual / predicted)))
        self.correction.update(math.log(max(correction_in_use, 1e-6)) + ratio)
        self.counts["correction"] += 1

    def observe_censored(self, predicted: float, bound: float, correction_in_use: float) -> bool:
        """An unsaturated interval sustained ``bound``: S_max >= bound. When the prediction
        (made with ``correction_in_use``) is below it, raise the correction to the bound;
        whether the constraint moved it."""
        if self.correction is None or predicted <= 0 or bound <= predicted:
            return False
        floor = math.log(max(correction_in_use, 1e-6)) + math.log(bound / predicted)
        if self.correction.value >= floor:
            return False
        self.correction.value = floor
        self.counts["censored"] += 1
        return True

    def set_correction(self, value: float) -> None:
        """The deployment raised its correction to meet a constraint: follow it."""
        if self.correction is not None and value > 0:
            self.correction.value = math.log(value)

    @property
    def correction_variance(self) -> float:
        """Variance of the log correction: the uncertainty of the tuned S_max's level."""
        return self.correction.variance if self.correction is not None else 0.0

    def estimates(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for group, rls in self.rls.items():
            for key, value in zip(GROUPS[group], rls.theta.tolist(), strict=True):
                out[key] = float(value)
        if self.correction is not None:
            out[CORRECTION] = math.exp(self.correction.value)
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "observations": dict(self.counts),
            "write_amp_estimate": self.write_amp.value if self.write_amp.updates else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "rls": {g: r.to_dict() for g, r in self.rls.items()},
            "correction": self.correction.to_dict() if self.correction is not None else None,
            "write_amp": self.write_amp.to_dict(),
            "counts": self.counts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], settings: TunerSettings | None = None) -> OnlineTuner:
        tuner = cls({}, settings)
        tuner.rls = {g: RecursiveLeastSquares.from_dict(r) for g, r in data.get("rls", {}).items()}
        if data.get("correction") is not None:
            tuner.correction = ScalarKalman.from_dict(data["correction"])
        if data.get("write_amp") is not None:
            tuner.write_amp = ScalarKalman.from_dict(data["write_amp"])
        tuner.counts.update(data.get("counts", {}))
        return tuner

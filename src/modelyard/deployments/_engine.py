"""One deployment, interval by interval: predict, compare what is comparable, tune, alert.

For every interval of its target a deployment:

1. resolves its references (``name@alias`` follows the alias, so promoting a version switches
   the deployment at the next interval) and picks the serving version: the only one, or, with
   candidates, the one with the lowest median recent error (a challenger must beat the serving
   version by ``selection_margin`` with at least ``selection_min`` errors); every change is a
   :class:`~modelyard.models.DeploymentSwitch`;
2. predicts S_max for every candidate from the interval's configuration and measured inputs;
3. compares: a saturated interval measured S_max (the achieved rate), so its error is
   ``(predicted - actual) / actual``; an unsaturated one only shows S_max >= the achieved rate
   (censored), so it counts as an error only when the prediction is below that bound, and such
   a prediction is flagged (``below_sustained``): it is provably wrong;
4. puts a p10-p90 interval around the prediction (:mod:`._intervals`) and, on saturated
   windows, counts whether the measured S_max fell inside it (the deployment's coverage);
5. records predicted (and its bounds), achieved, offered and headroom (S_max / offered) as the
   deployment's series;
6. when auto-tuning, feeds the tuner every interval and applies its estimates every
   ``tune_every`` intervals, each change a :class:`~modelyard.models.TuningRecord` with the error
   before and after on the same recent saturated windows. The recent unsaturated windows are
   constraints: whatever the estimates, the applied parameters never predict less than a rate
   one of them sustained (the correction is raised until they do), and a violated bound is
   applied at once rather than at the next ``tune_every``;
7. raises alert events (:meth:`DeploymentEngine._alerts`) and resolves them when the condition
   has cleared.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.deployments import _metrics as deployment_metrics
from modelyard.deployments._alerts import raise_alert, resolve_alerts
from modelyard.deployments._intervals import PredictionSpread, prediction_interval
from modelyard.deployments._predict import Predictor, effective_parameters, features_for
from modelyard.deployments._windows import IntervalWindow, ScoredWindow, abs_error
from modelyard.deployments.schemas import DeploymentSettings
from modelyard.flavors import RowPrediction
from modelyard.kit.errors import ProblemError
from modelyard.kit.time import utcnow
from modelyard.models import Deployment, DeploymentSwitch, TuningRecord
from modelyard.monitoring.store import MetricStore
from modelyard.registry import service as registry_service
from modelyard.registry.service import ResolvedVersion
from modelyard.targets.base import Interval

if TYPE_CHECKING:
    from modelyard.tuning import OnlineTuner, TunerSettings

__all__ = ["DeploymentEngine", "IntervalResult", "deployment_owner"]

_RESOLVE_TTL = 1.0
LIVE_CORRECTION = "live_correction"


def deployment_owner(deployment_id: int) -> str:
    return f"deployment:{deployment_id}"


@dataclass
class IntervalResult:
    """What one interval produced for one deployment (also the SSE event's data)."""

    ts_ms: int
    version: str | None
    predicted: float | None
    achieved: float
    offered: float | None
    headroom: float | None
    saturated: bool | None
    actual: float | None
    error_pct: float | None
    censored_violation_pct: float | None
    binding: str
    reasons: list[str] = field(default_factory=list)
    tuned: bool = False
    error: str | None = None
    predicted_p10: float | None = None
    predicted_p90: float | None = None
    sustained: float | None = None
    """The rate an unsaturated window sustained: S_max is at least this."""
    below_sustained: bool = False
    """The prediction is below ``sustained``: provably wrong."""
    covered: bool | None = None
    """On a saturated window: whether the measured S_max fell inside p10-p90."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DeploymentEngine:
    def __init__(self, row: Deployment, predictor: Predictor) -> None:
        self.id = row.id
        self.name = row.name
        self.refs = [row.model_ref, *row.candidates]
        self.auto_tune = row.auto_tune
        self.settings = DeploymentSettings.model_validate(row.settings)
        self.predictor = predictor
        self.serving_version_id = row.serving_version_id
        self.overlay: dict[str, Any] = dict(row.tuned_parameters)
        state = dict(row.state)
        self.errors: dict[int, deque[float]] = {
            int(k): deque(v, maxlen=self.settings.selection_window)
            for k, v in state.get("errors", {}).items()
        }
        self.conditions: dict[str, dict[str, Any]] = dict(state.get("conditions", {}))
        """Per alert kind: intervals in a row beyond the fire and the resolve threshold, and
        the interval time it opened at (None while closed)."""
        self.intervals = int(state.get("intervals", 0))
        self.tuner: OnlineTuner | None = None
        if self.auto_tune and state.get("tuner"):
            from modelyard.tuning import OnlineTuner

            self.tuner = OnlineTuner.from_dict(state["tuner"], self._tuner_settings())
        self.recent: deque[ScoredWindow] = deque(maxlen=max(self.settings.tune_every, 3))
        self.bounds: deque[ScoredWindow] = deque(
            (
                ScoredWindow(b["features"], float(b["actual"]), b.get("key", ""))
                for b in state.get("bounds", [])
            ),
            maxlen=self.settings.constraint_windows,
        )
        self.spread = (
            PredictionSpread.from_dict(state["spread"])
            if state.get("spread")
            else PredictionSpread()
        )
        stored = state.get("coverage", {})
        self.coverage: dict[str, int] = {k: int(stored.get(k, 0)) for k in ("windows", "covered")}
        self.window = IntervalWindow(self.settings.window_intervals)
        self.cores: float | None = state.get("cores")
        self._resolved: tuple[float, dict[str, ResolvedVersion | str]] = (0.0, {})
        self.following_since = utcnow().isoformat()

    def _tuner_settings(self) -> TunerSettings:
        # numpy (in tuning) loads with the first auto-tuned deployment, not with the server.
        from modelyard.tuning import TunerSettings

        return TunerSettings(forgetting=self.settings.forgetting)

    # -- versions -------------------------------------------------------------------------
    def _resolve(self, session: Session) -> dict[str, ResolvedVersion | str]:
        at, cached = self._resolved
        if time.monotonic() - at < _RESOLVE_TTL and cached:
            return cached
        out: dict[str, ResolvedVersion | str] = {}
        for ref in self.refs:
            try:
                out[ref] = registry_service.resolve(session, ref)
            except ProblemError as exc:
                out[ref] = exc.detail
        self._resolved = (time.monotonic(), out)
        return out

    @staticmethod
    def _label(version: ResolvedVersion) -> str:
        return f"{version.model}/{version.version}"

    def _median_error(self, version_id: int) -> float | None:
        errors = self.errors.get(version_id)
        if not errors or len(errors) < self.settings.selection_min:
            return None
        return statistics.median(errors)

    def _choose(
        self, versions: list[ResolvedVersion]
    ) -> tuple[ResolvedVersion, str, dict[str, Any]]:
        """The serving version and why; the primary reference wins until beaten."""
        by_id = {v.version_id: v for v in versions}
        primary = versions[0]
        current = by_id.get(self.serving_version_id or -1)
        if current is None:
            if self.serving_version_id is None:
                return primary, "start", {}
            reason = "alias_moved" if "@" in self.refs[0] else "version_unavailable"
            return primary, reason, {}
        if primary.version_id != current.version_id and current.version_id not in {
            v.version_id for v in versions[1:]
        }:
            return primary, "alias_moved", {}
        if len(versions) == 1:
            if primary.version_id != current.version_id:
                return primary, "alias_moved", {}
            return current, "", {}
        serving_error = self._median_error(current.version_id)
        best, best_error = current, serving_error
        for version in versions:
            error = self._median_error(version.version_id)
            if error is None or version.version_id == current.version_id:
                continue
            limit = (best_error if best_error is not None else math.inf) * (
                1 - self.settings.selection_margin
            )
            if error < limit:
                best, best_error = version, error
        if best.version_id != current.version_id:
            return (
                best,
                "lower_error",
                {
                    "median_abs_error_pct": {
                        self._label(current): serving_error,
                        self._label(best): best_error,
                    }
                },
            )
        return current, "", {}

    def _switch(
        self, session: Session, to: ResolvedVersion, reason: str, detail: dict[str, Any]
    ) -> None:
        session.add(
            DeploymentSwitch(
                deployment_id=self.id,
                from_version_id=self.serving_version_id,
                to_version_id=to.version_id,
                reason=reason,
                detail={"to": self._label(to), **detail},
            )
        )
        self.serving_version_id = to.version_id
        self.overlay = {}
        self.tuner = None
        self.recent.clear()
        self.spread = PredictionSpread()

    # -- one interval ---------------------------------------------------------------------
    def evaluate(self, session: Session, store: MetricStore, interval: Interval) -> IntervalResult:
        self.intervals += 1
        metrics = interval.metrics
        achieved = float(metrics.get("ops_per_sec", 0.0))
        offered = metrics.get("offered_ops_per_sec")
        window = self.window
        window.add(interval)
        inputs = dict(metrics)
        cores = metrics.get("cpu_available_cores")
        if cores is not None and math.isfinite(cores):
            # other processes come and go by the second; capacity follows the smoothed figure
            weight = min(1.0, interval.seconds / self.settings.cores_smoothing_seconds)
            self.cores = cores if self.cores is None else self.cores + weight * (cores - self.cores)
        if self.cores is not None:
            inputs["cpu_available_cores"] = self.cores
        features = features_for(
            interval.configuration, inputs, horizon_seconds=self.settings.horizon_seconds
        )
        resolved = self._resolve(session)
        versions = [v for v in resolved.values() if isinstance(v, ResolvedVersion)]
        if not versions:
            problems = "; ".join(str(v) for v in resolved.values())
            return self._record_failure(session, store, interval, achieved, offered, problems)
        serving, reason, detail = self._choose(versions)
        if reason:
            self._switch(session, serving, reason, detail)

        predictions: dict[int, RowPrediction] = {}
        failure: str | None = None
        for version in {v.version_id: v for v in versions}.values():
            overlay = self.overlay if version.version_id == serving.version_id else {}
            try:
                predictions[version.version_id] = self.predictor.predict(
                    version.flavor, version.parameters, overlay, features
                )
            except (ProblemError, ValueError, KeyError, TypeError) as exc:
                if version.version_id == serving.version_id:
                    failure = f"{self._label(version)} could not predict: {exc}"
        if failure is not None or serving.version_id not in predictions:
            return self._record_failure(
                session, store, interval, achieved, offered, failure or "no prediction"
            )
        prediction = predictions[serving.version_id]
        predicted = float(prediction.value)

        # Compare on the window: saturated -> measured S_max; unsaturated -> a lower bound.
        saturated = window.saturated if window.full else None
        window_rate = window.achieved if window.full else None
        actual = window_rate if saturated and window_rate else None
        if window_rate:
            for version_id, p in predictions.items():
                error = abs_error(float(p.value), window_rate, saturated)
                if error is not None:
                    self.errors.setdefault(
                        version_id, deque(maxlen=self.settings.selection_window)
                    ).append(error)
        violation = model_violation = None
        sustained = window_rate if saturated is False and window_rate else None
        binding = prediction.binding
        if sustained is not None:
            self.bounds.append(ScoredWindow(features, sustained, window.config_key))
            if predicted < sustained:
                model_violation = (predicted - sustained) / sustained * 100.0
        model_predicted = predicted
        if self.auto_tune and not saturated:
            # what recent windows of this configuration sustained, S_max is at least: the
            # tuned deployment serves no less (its model follows at the next adjustment); a
            # saturated window measures S_max itself, and may find the floor stale
            floor = max(
                (b.actual for b in self.bounds if b.config_key == window.config_key), default=0.0
            )
            if predicted < floor:
                predicted, binding = floor, "sustained_rate"
        if sustained is not None and predicted < sustained:
            violation = (predicted - sustained) / sustained * 100.0
        error_pct = (predicted - actual) / actual * 100.0 if actual else None
        lower, upper = prediction_interval(
            predicted, self._log_variance(window.cores_cv), floor=sustained
        )
        covered = None
        if actual is not None:
            covered = lower <= actual <= upper
            self.coverage["windows"] += 1
            self.coverage["covered"] += int(covered)
            self.spread.update(predicted, actual)
        demand = float(offered) if offered else achieved
        headroom = predicted / demand if demand > 0 else None
        headroom_lower = lower / demand if demand > 0 else None

        tuned = False
        if self.auto_tune:
            tuned = self._tune(
                session,
                serving,
                features,
                interval,
                model_predicted,
                actual,
                sustained,
                model_violation,
            )
        if actual is not None:
            self.recent.append(ScoredWindow(features, actual))

        self._alerts(
            session, interval.ts_ms, error_pct, violation, headroom_lower, serving, sustained
        )
        evaluation = IntervalResult(
            ts_ms=interval.ts_ms,
            version=self._label(serving),
            predicted=predicted,
            achieved=achieved,
            offered=float(offered) if offered is not None else None,
            headroom=headroom,
            saturated=saturated,
            actual=actual,
            error_pct=error_pct,
            censored_violation_pct=violation,
            binding=binding,
            reasons=list(interval.saturation_reasons),
            tuned=tuned,
            predicted_p10=lower,
            predicted_p90=upper,
            sustained=sustained,
            below_sustained=violation is not None,
            covered=covered,
        )
        points: dict[str, float] = {
            "predicted_smax": predicted,
            "predicted_smax_p10": lower,
            "predicted_smax_p90": upper,
            "achieved_ops_per_sec": achieved,
            "serving_version": float(serving.version),
        }
        if offered is not None:
            points["offered_ops_per_sec"] = float(offered)
        if headroom is not None:
            points["headroom"] = headroom
        if headroom_lower is not None:
            points["headroom_p10"] = headroom_lower
        if covered is not None:
            points["interval_covered"] = 1.0 if covered else 0.0
        if interval.saturated is not None:
            points["saturated"] = 1.0 if interval.saturated else 0.0
        if actual is not None:
            points["actual_smax"] = actual
            points["error_pct"] = error_pct or 0.0
        elif saturated is False and window_rate:
            points["lower_bound_smax"] = window_rate
        if sustained is not None:
            points["below_sustained"] = 1.0 if violation is not None else 0.0
        if violation is not None:
            points["censored_violation_pct"] = violation
        for key, value in self.overlay.items():
            if isinstance(value, int | float):
                points[f"param.{key}"] = float(value)
        store.write(
            deployment_owner(self.id), [(interval.ts_ms, points)], conn=session.connection()
        )
        self._save_state(session, evaluation)
        windows = self.coverage["windows"]
        deployment_metrics.observe(
            self.name,
            evaluation.version,
            {
                "predicted": predicted,
                "predicted_p10": lower,
                "predicted_p90": upper,
                "achieved": achieved,
                "offered": evaluation.offered,
                "error_pct": error_pct,
                "headroom": headroom,
                "headroom_p10": headroom_lower,
                "below_sustained": 1.0 if violation is not None else 0.0,
            },
            self.coverage["covered"] / windows if windows else None,
            tuned=tuned,
        )
        return evaluation

    def _record_failure(
        self,
        session: Session,
        store: MetricStore,
        interval: Interval,
        achieved: float,
        offered: float | None,
        problem: str,
    ) -> IntervalResult:
        evaluation = IntervalResult(
            ts_ms=interval.ts_ms,
            version=None,
            predicted=None,
            achieved=achieved,
            offered=offered,
            headroom=None,
            saturated=interval.saturated,
            actual=None,
            error_pct=None,
            censored_violation_pct=None,
            binding="",
            error=problem,
        )
        store.write(
            deployment_owner(self.id),
            [(interval.ts_ms, {"achieved_ops_per_sec": achieved})],
            conn=session.connection(),
        )
        self._save_state(session, evaluation)
        return evaluation

    # -- tuning ---------------------------------------------------------------------------
    def _tune(
        self,
        session: Session,
        serving: ResolvedVersion,
        features: dict[str, Any],
        interval: Interval,
        predicted: float,
        actual: float | None,
        sustained: float | None,
        violation: float | None,
    ) -> bool:
        """Feed the tuner; every ``tune_every`` intervals (at once when the prediction is
        below a sustained rate) apply what moved and record it.

        Cost parameters are the model's own (overrides of its profile); the correction is the
        deployment's ``live_correction``, a multiplier on the model's S_max fitted on
        saturated windows and kept above the recent sustained rates: exact to invert,
        whatever the formula.
        """
        base = effective_parameters(serving.parameters, features)
        current = {
            k: float(self.overlay.get(k, v)) for k, v in base.items() if k != "correction_factor"
        }
        current[LIVE_CORRECTION] = float(
            self.overlay.get(LIVE_CORRECTION, serving.parameters.get(LIVE_CORRECTION, 1.0))
        )
        if self.tuner is None:
            initial = {k: v for k, v in current.items() if k != LIVE_CORRECTION}
            initial["correction_factor"] = current[LIVE_CORRECTION]
            from modelyard.tuning import OnlineTuner

            self.tuner = OnlineTuner(initial, self._tuner_settings())
        self.tuner.observe(interval.evidence)
        if actual is not None:
            self.tuner.observe_saturated(predicted, actual, current[LIVE_CORRECTION])
        if sustained is not None:
            self.tuner.observe_censored(predicted, sustained, current[LIVE_CORRECTION])
        if self.intervals % self.settings.tune_every and violation is None:
            return False
        estimates = self.tuner.estimates()
        if "correction_factor" in estimates:
            estimates[LIVE_CORRECTION] = estimates.pop("correction_factor")
        changes = {
            k: abs(v - current[k]) / abs(current[k]) * 100.0 if current.get(k) else math.inf
            for k, v in estimates.items()
            if k in current
        }
        moved = {k: estimates[k] for k, c in changes.items() if c >= self.settings.min_change_pct}
        raised = self._meet_sustained_rates(serving, {**self.overlay, **moved})
        if raised is not None:
            moved[LIVE_CORRECTION] = raised
            changes[LIVE_CORRECTION] = (
                (raised - current[LIVE_CORRECTION]) / current[LIVE_CORRECTION] * 100.0
            )
            self.tuner.set_correction(raised)
        if not moved:
            return False
        before = {k: current[k] for k in moved}
        new_overlay = {**self.overlay, **moved}
        error_before = self._recent_error(serving, self.overlay)
        error_after = self._recent_error(serving, new_overlay)
        evidence = {
            **self.tuner.summary(),
            "saturated_windows": len(self.recent),
            "cpu_available_cores": interval.metrics.get("cpu_available_cores"),
            "interval_ts_ms": interval.ts_ms,
            # from zero a change has no percentage (and JSON no Infinity)
            "changes_pct": {k: changes[k] if math.isfinite(changes[k]) else None for k in moved},
            "sustained_rate_constraint": raised is not None,
        }
        session.add(
            TuningRecord(
                deployment_id=self.id,
                version_id=serving.version_id,
                parameters_before=before,
                parameters_after=moved,
                evidence=evidence,
                error_before_pct=error_before,
                error_after_pct=error_after,
            )
        )
        self.overlay = new_overlay
        self.recent.clear()  # the next record is scored on windows predicted with these
        return True

    def _meet_sustained_rates(
        self, serving: ResolvedVersion, overlay: dict[str, Any]
    ) -> float | None:
        """The correction ``overlay`` needs so that no recent unsaturated window's sustained
        rate is above its prediction, when its own is short of that; else None."""
        correction = float(overlay.get(LIVE_CORRECTION, 1.0))
        need = 1.0
        seen: set[str] = set()
        for window in reversed(self.bounds):  # newest first; one prediction per configuration
            key = repr(sorted(window.features.items()))
            if key in seen:
                continue
            seen.add(key)
            p = float(
                self.predictor.predict(
                    serving.flavor, serving.parameters, overlay, window.features
                ).value
            )
            if p > 0:
                need = max(need, window.actual / p)
        if need <= 1.0:
            return None
        # on the boundary, the next window's rate (a few percent of noise) would cross it again
        return correction * need * (1.0 + self.settings.constraint_margin_pct / 100.0)

    def _log_variance(self, cores_cv: float | None) -> float:
        """Variance of log S_max around the prediction: the recent spread of measured against
        predicted, the tuner's uncertainty in its correction, and the CPU's variability."""
        variance = self.spread.mean_square + (cores_cv or 0.0) ** 2
        if self.tuner is not None:
            variance += self.tuner.correction_variance
        return variance

    def _recent_error(self, serving: ResolvedVersion, overlay: dict[str, Any]) -> float | None:
        if not self.recent:
            return None
        errors = []
        for window in self.recent:
            p = self.predictor.predict(serving.flavor, serving.parameters, overlay, window.features)
            errors.append(abs(float(p.value) - window.actual) / window.actual * 100.0)
        return statistics.median(errors)

    # -- alerts ---------------------------------------------------------------------------
    def _alerts(
        self,
        session: Session,
        ts_ms: int,
        error_pct: float | None,
        violation: float | None,
        headroom: float | None,
        serving: ResolvedVersion,
        sustained: float | None,
    ) -> None:
        """Open and close the deployment's alerts without flapping.

        Each condition fires after ``N`` intervals beyond its fire threshold and clears only
        after ``resolve_intervals`` intervals on the safe side of a separate, stricter resolve
        threshold (hysteresis), and never before it has been open ``min_open_seconds``;
        between the two thresholds nothing changes. Headroom is judged on the prediction's
        p10: a prediction that is merely uncertain does not claim room it may not have.
        """
        s = self.settings
        label = self._label(serving)
        error = error_pct if error_pct is not None else violation
        if error is not None:
            resolve_at = (
                s.error_resolve_pct
                if s.error_resolve_pct is not None
                else 0.8 * s.error_threshold_pct
            )
            self._condition(
                session,
                ts_ms,
                "prediction_error",
                firing=abs(error) > s.error_threshold_pct,
                clear=abs(error) <= resolve_at,
                need=s.error_intervals,
                message=f"|prediction error| above {s.error_threshold_pct:g}% for "
                f"{s.error_intervals} intervals in a row (last {error:+.1f}%, version {label}).",
                detail={"error_pct": error, "version": label},
            )
        if headroom is not None:
            resolve_at = (
                s.headroom_resolve if s.headroom_resolve is not None else 1.15 * s.headroom_min
            )
            self._condition(
                session,
                ts_ms,
                "low_headroom",
                firing=headroom < s.headroom_min,
                clear=headroom >= resolve_at,
                need=s.headroom_intervals,
                message=f"Headroom (p10 of predicted S_max / offered rate) under "
                f"{s.headroom_min:g} for {s.headroom_intervals} intervals (last {headroom:.2f}).",
                detail={"headroom_p10": headroom, "version": label},
            )
        if sustained is not None:
            self._condition(
                session,
                ts_ms,
                "below_sustained_rate",
                firing=violation is not None,
                clear=violation is None,
                need=1,
                message=f"Predicted S_max is {-(violation or 0.0):.0f}% below the "
                f"{sustained:,.0f} ops/s the target sustained without saturating (version "
                f"{label}): the prediction is provably too low.",
                detail={"violation_pct": violation, "sustained": sustained, "version": label},
            )

    def _condition(
        self,
        session: Session,
        ts_ms: int,
        kind: str,
        *,
        firing: bool,
        clear: bool,
        need: int,
        message: str,
        detail: dict[str, Any],
    ) -> None:
        state = self.conditions.setdefault(kind, {"fire": 0, "clear": 0, "open_since": None})
        state["fire"] = state["fire"] + 1 if firing else 0
        state["clear"] = state["clear"] + 1 if clear else 0
        if state["open_since"] is None:
            if firing and state["fire"] >= need:
                self._raise(session, kind, message, detail)
                state["open_since"] = ts_ms
        elif (
            state["clear"] >= self.settings.resolve_intervals
            and ts_ms - state["open_since"] >= self.settings.min_open_seconds * 1000
        ):
            self._resolve_alerts(session, kind)
            state["open_since"] = None

    def _raise(self, session: Session, kind: str, message: str, detail: dict[str, Any]) -> None:
        raise_alert(session, self.id, kind, message, detail)

    def _resolve_alerts(self, session: Session, kind: str) -> None:
        resolve_alerts(session, self.id, kind)

    def _save_state(self, session: Session, evaluation: IntervalResult) -> None:
        state: dict[str, Any] = {
            "last": evaluation.to_dict(),
            "intervals": self.intervals,
            "conditions": self.conditions,
            "cores": self.cores,
            "following_since": self.following_since,
            "errors": {str(k): list(v) for k, v in self.errors.items()},
            "bounds": [
                {"features": b.features, "actual": b.actual, "key": b.config_key}
                for b in self.bounds
            ],
            "spread": self.spread.to_dict(),
            "coverage": {
                **self.coverage,
                "pct": self.coverage["covered"] / self.coverage["windows"] * 100.0
                if self.coverage["windows"]
                else None,
            },
        }
        if self.tuner is not None:
            state["tuner"] = self.tuner.to_dict()
        session.execute(
            sa.update(Deployment)
            .where(Deployment.id == self.id)
            .values(
                state=state,
                serving_version_id=self.serving_version_id,
                tuned_parameters=self.overlay,
            )
        )

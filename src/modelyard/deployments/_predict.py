"""S_max predictions for a deployed version: features from an interval, then the model.

The model is the version's, loaded and run through :mod:`modelyard.flavors` like everywhere
else (``predict_row``); a deployment runs ``formula`` versions, whose kind is ``linear`` or
one of :data:`modelyard.perfmodels.FORMULA_KINDS`. The tuner's overlay is merged over the
version's parameters at the top level, which is where ``smax_resource`` reads overrides.

Features come from the interval's configuration (the workload and options in force), mapped
to db_bench's names, plus the measured CPU available. A live system has no run length, so the
resource model's backlog simulation runs over ``horizon_seconds`` (the deployment's setting).
Predictions are cached on the rounded features and the parameters: within a phase they
repeat, and the resource model's simulation costs 0.17-1.4 s. The first level is this
process's LRU; the second is the shared cache (:mod:`modelyard.cache`) when it reaches other
processes (Redis): another server process that takes over a target's lease, a job worker
running the experiment, or this process after a restart finds what was already computed. A
prediction is a pure function of the parameters, the features and the code, so the key is a
hash of those and the modelyard version, and an entry is never stale.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from modelyard import __version__, flavors
from modelyard.flavors import RowPrediction
from modelyard.kit.errors import BadRequest

if TYPE_CHECKING:
    from modelyard.cache import Cache

__all__ = ["Predictor", "effective_parameters", "features_for"]

_DBBENCH_NAMES = {
    "key_size": "key_size",
    "value_size": "value_size",
    "write_buffer_size": "write_buffer_size",
    "max_write_buffer_number": "max_write_buffer_number",
    "max_background_jobs": "max_background_jobs",
    "level0_file_num_compaction_trigger": "level0_file_num_compaction_trigger",
    "level0_slowdown_writes_trigger": "level0_slowdown_writes_trigger",
    "level0_stop_writes_trigger": "level0_stop_writes_trigger",
    "target_file_size_base": "target_file_size_base",
    "max_bytes_for_level_base": "max_bytes_for_level_base",
    "threads": "threads",
    "key_space": "num",
    "compression": "compression_type",
    "compression_type": "compression_type",
    "num": "num",
}
CORES_STEP = 0.05
"""Relative step of the CPU-available feature (5 %): predictions repeat, and are cached, on it."""
CORES_FLOOR = 0.01
SHARED = "deployments.smax"
SHARED_FORMAT = "row-prediction/1"
"""Part of every shared key: a change of what is stored changes it."""
SHARED_TTL = 24 * 3600.0
"""Shared entries are never stale (see the module docstring); the TTL only frees memory."""


def features_for(
    configuration: dict[str, Any], metrics: dict[str, float], *, horizon_seconds: float
) -> dict[str, Any]:
    """The feature dict a formula gets for one interval."""
    features: dict[str, Any] = {}
    if "db_bench_args" in configuration:
        features["db_bench_args"] = configuration["db_bench_args"]
    for source, name in _DBBENCH_NAMES.items():
        value = configuration.get(source)
        if value is not None:
            features[name] = (
                int(value) if isinstance(value, float) and name != "compression_type" else value
            )
    if "db_bench_args" not in features:
        features["duration"] = int(horizon_seconds)
        features["benchmarks"] = "fillrandom"
    cores = metrics.get("cpu_available_cores")
    if cores is not None and math.isfinite(cores):
        # a relative grid: 0.05 cores is nothing on an idle machine and a third of a busy one's
        step = math.log1p(CORES_STEP)
        grid = math.exp(round(math.log(max(cores, CORES_FLOOR)) / step) * step)
        features["cpu_available_cores"] = round(grid, 4)
    # numeric metrics and configuration stay available to simple (linear) formulas
    for key, value in {**configuration, **metrics}.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            features.setdefault(key, value)
    return features


def effective_parameters(parameters: dict[str, Any], features: dict[str, Any]) -> dict[str, float]:
    """The cost parameters a ``smax_resource`` version really uses (profile + overrides)."""
    if parameters.get("kind") != "smax_resource":
        return {}
    from modelyard.perfmodels import (
        ResourceParameters,
        config_from_features,
        profile_from_parameters,
    )

    config = config_from_features(features)
    profile = profile_from_parameters(parameters)
    base = ResourceParameters.from_profile(profile, config.compression_type).model_dump()
    base.update({k: v for k, v in parameters.items() if k in base})
    return {k: float(v) for k, v in base.items()}


class Predictor:
    """Evaluates formula versions with a small cache in front of the shared one.

    ``shared`` is the second level: the process's cache (the app's, the worker's), used only
    when it reaches other processes. The predictor runs in the live loop's thread, so it goes
    through the cache's blocking bridge."""

    def __init__(self, size: int = 512, shared: Cache | None = None) -> None:
        self.size = size
        self._cache: OrderedDict[str, RowPrediction] = OrderedDict()
        self._shared = shared

    def _second_level(self) -> Cache | None:
        shared = self._shared
        return shared if shared is not None and shared.shared and shared.enabled else None

    def predict(
        self,
        flavor: str,
        parameters: dict[str, Any],
        overlay: dict[str, Any],
        features: dict[str, Any],
    ) -> RowPrediction:
        """The version's prediction for one interval's features, the overlay merged over its
        parameters and its ``live_correction`` applied."""
        if flavor != "formula":
            raise BadRequest(
                f"A deployment predicts with `formula` versions; this version's flavor is '{flavor}'."
            )
        merged = {**parameters, **overlay}
        kind = merged.get("kind")
        live_correction = float(merged.pop("live_correction", 1.0))
        key = json.dumps([merged, sorted(features.items())], sort_keys=True, default=str)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._compute_shared(str(kind), merged, features, key)
            self._cache[key] = cached
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        if live_correction != 1.0:
            return RowPrediction(cached.value * live_correction, cached.binding, cached.bounds)
        return cached

    def _compute_shared(
        self, kind: str, parameters: dict[str, Any], features: dict[str, Any], key: str
    ) -> RowPrediction:
        shared = self._second_level() if kind != "linear" else None  # linear costs microseconds
        if shared is None:
            return self._compute(parameters, features)
        digest = hashlib.sha256(f"{__version__}\n{SHARED_FORMAT}\n{key}".encode()).hexdigest()
        stored = shared.get_blocking(SHARED, digest)
        if stored is not None:
            value = json.loads(stored)
            return RowPrediction(value["value"], value["binding"], value["bounds"])
        prediction = self._compute(parameters, features)
        body = {
            "value": prediction.value,
            "binding": prediction.binding,
            "bounds": prediction.bounds,
        }
        shared.set_blocking(SHARED, digest, json.dumps(body).encode(), ttl=SHARED_TTL)
        return prediction

    @staticmethod
    def _compute(parameters: dict[str, Any], features: dict[str, Any]) -> RowPrediction:
        # Not through the loaded-model cache: a formula costs microseconds to build, and every
        # tuned overlay is another set of parameters that would push evaluations' models out.
        model = flavors.load_model("formula", parameters, None, cached=False)
        return model.predict_row(features)

"""FORMULA_KINDS: the contract between these models and the application's `formula` flavor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from modelyard.perfmodels._config import DbBenchConfig, parse_db_bench_args
from modelyard.perfmodels._legacy import (
    AdaptiveFactor,
    predict_v1,
    predict_v2_1,
    predict_v3,
    predict_v4,
    predict_v5,
)
from modelyard.perfmodels._profile import Profile
from modelyard.perfmodels._resource import ResourceParameters, SmaxPrediction, predict_resource

FormulaKind = Callable[[Mapping[str, Any], Mapping[str, Any]], SmaxPrediction]

_RESOURCE_KEYS = set(ResourceParameters.model_fields)


def config_from_features(features: Mapping[str, Any]) -> DbBenchConfig:
    """`{"db_bench_args": "..."}`, `{"config": {...}}` or flat DbBenchConfig fields."""
    if "db_bench_args" in features:
        return parse_db_bench_args(str(features["db_bench_args"]))
    if "config" in features:
        return DbBenchConfig.model_validate(features["config"])
    known = {k: v for k, v in features.items() if k in DbBenchConfig.model_fields}
    return DbBenchConfig.model_validate(known)


def profile_from_parameters(parameters: Mapping[str, Any]) -> Profile:
    raw = parameters.get("profile", parameters)
    return Profile.model_validate(raw)


def _cores(features: Mapping[str, Any], parameters: Mapping[str, Any]) -> float | None:
    for source in (features, parameters):
        value = source.get("cpu_available_cores")
        if value is not None:
            return float(value)
    return None


def _resource(parameters: Mapping[str, Any], features: Mapping[str, Any]) -> SmaxPrediction:
    config = config_from_features(features)
    profile = profile_from_parameters(parameters)
    params = ResourceParameters.from_profile(profile, config.compression_type)
    overrides = {k: v for k, v in parameters.items() if k in _RESOURCE_KEYS}
    if overrides:
        params = params.model_copy(update=overrides)
    speed = features.get("cpu_speed_ns_per_iteration")
    single = features.get("cpu_single_thread_cores")
    return predict_resource(
        config,
        profile,
        available_cores=_cores(features, parameters),
        parameters=params,
        cpu_speed_ns_per_iteration=float(speed) if speed is not None else None,
        single_thread_cores=float(single) if single is not None else None,
    )


def _v1(parameters: Mapping[str, Any], features: Mapping[str, Any]) -> SmaxPrediction:
    return predict_v1(config_from_features(features), profile_from_parameters(parameters))


def _v2_1(parameters: Mapping[str, Any], features: Mapping[str, Any]) -> SmaxPrediction:
    return predict_v2_1(config_from_features(features), profile_from_parameters(parameters))


def _v3(parameters: Mapping[str, Any], features: Mapping[str, Any]) -> SmaxPrediction:
    return predict_v3(
        config_from_features(features),
        profile_from_parameters(parameters),
        available_cores=_cores(features, parameters),
    )


def _v4(parameters: Mapping[str, Any], features: Mapping[str, Any]) -> SmaxPrediction:
    return predict_v4(config_from_features(features), profile_from_parameters(parameters))


def _v5(parameters: Mapping[str, Any], features: Mapping[str, Any]) -> SmaxPrediction:
    factor = AdaptiveFactor.model_validate(parameters.get("adaptive_factor", {}))
    return predict_v5(
        config_from_features(features),
        profile_from_parameters(parameters),
        factor=factor,
        available_cores=_cores(features, parameters),
    )


FORMULA_KINDS: dict[str, FormulaKind] = {
    "smax_resource": _resource,
    "smax_v1": _v1,
    "smax_v2_1": _v2_1,
    "smax_v3": _v3,
    "smax_v4": _v4,
    "smax_v5": _v5,
}


def predict(
    kind: str, parameters: Mapping[str, Any], features: Mapping[str, Any]
) -> SmaxPrediction:
    """Look up `kind` in FORMULA_KINDS and call it."""
    try:
        formula = FORMULA_KINDS[kind]
    except KeyError:
        raise KeyError(
            f"unknown S_max formula kind {kind!r}; known: {sorted(FORMULA_KINDS)}"
        ) from None
    return formula(parameters, features)

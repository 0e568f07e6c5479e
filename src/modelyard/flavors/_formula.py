"""``formula`` models: built-in parametric kinds chosen by ``parameters.kind``.

``linear`` is y = intercept + sum(coef[c] * x[c]), vectorised over whole columns. Every other
kind is looked up in :data:`modelyard.perfmodels.FORMULA_KINDS`, whose contract is one
prediction per call: ``FORMULA_KINDS[kind](parameters, features) -> SmaxPrediction``. Those
are evaluated row by row with the row's known feature columns (db_bench options,
``db_bench_args``, ``cpu_available_cores``, plus any named in ``parameters.features``), and
identical rows are computed once (a benchmark table repeats few configurations many times).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from modelyard.flavors._base import FlavorError, LoadedModel, Prediction, as_float, feature_list

_PER_ROW_INPUTS = {"db_bench_args", "config", "cpu_available_cores"}


class LinearFormula(LoadedModel):
    flavor = "formula"
    task = "regression"

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        coef = parameters.get("coef", {})
        intercept = parameters.get("intercept", 0.0)
        if not isinstance(coef, dict) or not all(_is_number(v) for v in coef.values()):
            raise FlavorError(
                "A linear formula needs `parameters.coef`, an object of column -> number."
            )
        if not _is_number(intercept):
            raise FlavorError("`parameters.intercept` of a linear formula must be a number.")
        self.intercept = float(intercept)
        self.coef = {str(k): float(v) for k, v in coef.items()}
        self.features = tuple(self.coef)

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        rows = len(next(iter(columns.values()))) if columns else 0
        out = np.full(rows, self.intercept, dtype=np.float64)
        for name, weight in self.coef.items():
            out += weight * as_float(name, columns[name])
        return Prediction(out)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"kind": "linear"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class PerRowFormula(LoadedModel):
    """A kind from ``modelyard.perfmodels``: one call per distinct row of features."""

    flavor = "formula"
    task = "regression"

    def __init__(
        self,
        kind: str,
        parameters: Mapping[str, Any],
        formula: Callable[..., Any],
        inputs: frozenset[str],
    ) -> None:
        self.kind = kind
        self.parameters = dict(parameters)
        self.formula = formula
        self.features = feature_list(parameters) or ()
        self.optional_features = inputs - set(self.features)
        self._memo: dict[tuple[Any, ...], float] = {}

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        names = sorted(columns)
        rows = len(columns[names[0]]) if names else 0
        out = np.empty(rows, dtype=np.float64)
        for index in range(rows):
            row = tuple(_plain(columns[name][index]) for name in names)
            value = self._memo.get(row)
            if value is None:
                features = {
                    name: item for name, item in zip(names, row, strict=True) if item is not None
                }
                value = self._call(features)
                if len(self._memo) < 100_000:
                    self._memo[row] = value
            out[index] = value
        return Prediction(out)

    def _call(self, features: dict[str, Any]) -> float:
        try:
            result = self.formula(self.parameters, features)
        except Exception as exc:
            raise FlavorError(
                f"Formula '{self.kind}' could not predict for {features}: {exc}"
            ) from exc
        value = (
            result if isinstance(result, int | float) else getattr(result, "smax_ops_per_sec", None)
        )
        if not isinstance(value, int | float):
            raise FlavorError(
                f"Formula '{self.kind}' returned {type(result).__name__}, not a number."
            )
        return float(value)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "kind": self.kind,
            "optional_features": sorted(self.optional_features),
        }


def _perfmodel_kinds() -> tuple[Mapping[str, Callable[..., Any]], frozenset[str]]:
    try:
        from modelyard.perfmodels import FORMULA_KINDS, DbBenchConfig
    except ImportError:  # pragma: no cover - perfmodels ships with modelyard
        return {}, frozenset()
    return FORMULA_KINDS, frozenset(DbBenchConfig.model_fields) | _PER_ROW_INPUTS


def load_formula(parameters: Mapping[str, Any]) -> LoadedModel:
    kind = parameters.get("kind")
    if kind == "linear":
        return LinearFormula(parameters)
    kinds, inputs = _perfmodel_kinds()
    if isinstance(kind, str) and kind in kinds:
        return PerRowFormula(kind, parameters, kinds[kind], inputs)
    known = ", ".join(sorted({"linear", *kinds}))
    raise FlavorError(f"Unknown formula kind {kind!r}; use one of {known}.")

"""``formula`` models: built-in parametric kinds chosen by ``parameters.kind``.

``linear`` is y = intercept + sum(coef[c] * x[c]): vectorised over whole columns for a batch,
a plain sum for one row. Every other kind is looked up in
:data:`modelyard.perfmodels.FORMULA_KINDS`, whose contract is one prediction per call:
``FORMULA_KINDS[kind](parameters, features) -> SmaxPrediction``. A batch is evaluated row by
row with the row's known feature columns (db_bench options, ``db_bench_args``,
``cpu_available_cores``, plus any named in ``parameters.features``), and identical rows are
computed once (a benchmark table repeats few configurations many times).

:func:`load_formula` is also the validation of a formula version's parameters: the registry
calls it before it stores one, so a version that is accepted is one that loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelyard.flavors._base import (
    FlavorError,
    LoadedModel,
    Prediction,
    RowPrediction,
    as_float,
    feature_list,
    missing_feature,
    require_features,
)

if TYPE_CHECKING:
    import numpy as np

    from modelyard.perfmodels import FormulaKind, SmaxPrediction

_PER_ROW_INPUTS = {"db_bench_args", "config", "cpu_available_cores"}


def formula_kinds() -> list[str]:
    """Every ``parameters.kind`` a formula version may name."""
    from modelyard.perfmodels import FORMULA_KINDS

    return sorted({"linear", *FORMULA_KINDS})


def load_formula(parameters: Mapping[str, Any]) -> LoadedModel:
    """The formula ``parameters`` describe; :class:`FlavorError` naming what is wrong."""
    from modelyard.perfmodels import FORMULA_KINDS

    kind = parameters.get("kind")
    if kind == "linear":
        return LinearFormula(parameters)
    if isinstance(kind, str) and kind in FORMULA_KINDS:
        return PerRowFormula(kind, parameters, FORMULA_KINDS[kind])
    raise FlavorError(
        f"Unknown formula kind {kind!r}: `parameters.kind` must be one of "
        f"{', '.join(formula_kinds())}."
    )


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
        import numpy as np

        require_features(self.features, columns)
        rows = len(next(iter(columns.values()))) if columns else 0
        out = np.full(rows, self.intercept, dtype=np.float64)
        for name, weight in self.coef.items():
            out += weight * as_float(name, columns[name])
        return Prediction(out)

    def predict_row(self, features: Mapping[str, Any]) -> RowPrediction:
        value = self.intercept
        for name, weight in self.coef.items():
            feature = features.get(name)
            if not isinstance(feature, int | float):
                raise missing_feature(name)
            value += weight * float(feature)
        return RowPrediction(value, "linear")

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"kind": "linear"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _cell(value: Any) -> Any:
    """A column's cell as a plain value, NaN (a null) as ``None``."""
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _number(result: SmaxPrediction | float) -> float:
    """A kind's answer as a number: an :class:`SmaxPrediction`'s rate, or a plain number
    (a kind may answer with one)."""
    return float(result if isinstance(result, int | float) else result.smax_ops_per_sec)


class PerRowFormula(LoadedModel):
    """A kind from ``modelyard.perfmodels``: one call per distinct row of features."""

    flavor = "formula"
    task = "regression"

    def __init__(self, kind: str, parameters: Mapping[str, Any], formula: FormulaKind) -> None:
        from modelyard.perfmodels import DbBenchConfig

        self.kind = kind
        self.parameters = dict(parameters)
        self.formula = formula
        self.features = feature_list(parameters) or ()
        inputs = frozenset(DbBenchConfig.model_fields) | _PER_ROW_INPUTS
        self.optional_features = inputs - set(self.features)
        self._memo: dict[tuple[Any, ...], float] = {}

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        import numpy as np

        require_features(self.features, columns)
        names = sorted(columns)
        rows = len(columns[names[0]]) if names else 0
        out = np.empty(rows, dtype=np.float64)
        for index in range(rows):
            row = tuple(_cell(columns[name][index]) for name in names)
            value = self._memo.get(row)
            if value is None:
                features = {
                    name: item for name, item in zip(names, row, strict=True) if item is not None
                }
                try:
                    value = _number(self.formula(self.parameters, features))
                except Exception as exc:
                    raise FlavorError(
                        f"Formula '{self.kind}' could not predict for {features}: {exc}"
                    ) from exc
                if len(self._memo) < 100_000:
                    self._memo[row] = value
            out[index] = value
        return Prediction(out)

    def predict_row(self, features: Mapping[str, Any]) -> RowPrediction:
        """The formula on one row; an error of the formula itself (a configuration it cannot
        handle) is raised as it is, for the caller to report."""
        require_features(self.features, features)
        result = self.formula(self.parameters, features)
        if isinstance(result, int | float):
            return RowPrediction(float(result))
        bounds = {k: float(v) for k, v in result.bounds.items() if math.isfinite(v)}
        return RowPrediction(float(result.smax_ops_per_sec), result.binding, bounds)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "kind": self.kind,
            "optional_features": sorted(self.optional_features),
        }

"""What every loaded model offers the evaluation loop, whatever its flavor."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from modelyard.kit.errors import BadRequest

Task = Literal["regression", "classification"]
TASKS: tuple[Task, ...] = ("regression", "classification")


class FlavorError(BadRequest):
    """The model cannot be loaded or run; ``detail`` says why and what to do instead."""

    title = "Model cannot be used"


@dataclass
class Prediction:
    values: np.ndarray
    """One prediction per row: a number (regression) or a class label (classification)."""
    scores: np.ndarray | None = None
    """Class probabilities, shape (rows, classes), columns in :attr:`LoadedModel.classes` order."""


class LoadedModel(ABC):
    """A model ready to predict on columns (numpy arrays of equal length, keyed by feature)."""

    flavor: str = ""
    task: Task = "regression"
    features: tuple[str, ...] = ()
    """The inputs the model needs, in its input order."""
    optional_features: frozenset[str] = frozenset()
    """Inputs used when a column of that name is present (formula kinds with defaults)."""
    classes: tuple[Any, ...] | None = None

    @abstractmethod
    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction: ...

    def describe(self) -> dict[str, Any]:
        return {
            "flavor": self.flavor,
            "task": self.task,
            "features": list(self.features),
            "classes": [_plain(c) for c in self.classes] if self.classes is not None else None,
        }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def as_float(name: str, values: np.ndarray) -> np.ndarray:
    """A numeric feature as float64 (nulls are NaN); a text column is refused by name."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise FlavorError(
            f"Feature '{name}' is not numeric (column type {values.dtype}); map a numeric column to it."
        ) from exc


def feature_list(parameters: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``parameters.features``: the column names a model reads, in its input order."""
    raw = parameters.get("features")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        raise FlavorError("`parameters.features` must be a list of column names.")
    if len(set(raw)) != len(raw):
        raise FlavorError("`parameters.features` names a column twice.")
    return tuple(raw)

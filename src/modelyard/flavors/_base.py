"""What every loaded model offers its callers, whatever its flavor.

numpy is imported by the functions that compute, not by this module: the registry validates
versions through :mod:`modelyard.flavors` in a server that has not loaded numpy yet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from modelyard.kit.errors import BadRequest

if TYPE_CHECKING:
    import numpy as np

Task = Literal["regression", "classification"]
TASKS: tuple[Task, ...] = ("regression", "classification")


class FlavorError(BadRequest):
    """The model cannot be loaded or run; ``detail`` says why and what to do instead."""

    title = "Model cannot be used"


@dataclass
class Prediction:
    """A batch's predictions."""

    values: np.ndarray
    """One prediction per row: a number (regression) or a class label (classification)."""
    scores: np.ndarray | None = None
    """Class probabilities, shape (rows, classes), columns in :attr:`LoadedModel.classes` order."""


@dataclass(frozen=True)
class RowPrediction:
    """One row's prediction, in plain Python values (the live loop's, an online request's)."""

    value: Any
    """A number (regression) or a class label (classification)."""
    binding: str = ""
    """For S_max formulas: the resource whose bound is the smallest."""
    bounds: dict[str, float] = field(default_factory=dict)
    """For S_max formulas: the rate each resource allows (finite bounds only)."""
    scores: dict[str, float] | None = None
    """For classifiers that give them: the probability of each class."""


class LoadedModel(ABC):
    """A model ready to predict on a batch of columns (numpy arrays of equal length, keyed by
    feature) or on one row (a mapping of feature to plain value)."""

    flavor: str = ""
    task: Task = "regression"
    features: tuple[str, ...] = ()
    """The inputs the model needs, in its input order."""
    optional_features: frozenset[str] = frozenset()
    """Inputs used when a column of that name is present (formula kinds with defaults)."""
    classes: tuple[Any, ...] | None = None

    @abstractmethod
    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction: ...

    def predict_row(self, features: Mapping[str, Any]) -> RowPrediction:
        """One row through :meth:`predict`; flavors with a cheaper way override it."""
        import numpy as np

        require_features(self.features, features)
        names = [*self.features, *(n for n in sorted(self.optional_features) if n in features)]
        batch = self.predict({name: np.asarray([features[name]]) for name in names})
        scores = None
        if batch.scores is not None and self.classes is not None:
            scores = {
                str(plain(label)): float(p)
                for label, p in zip(self.classes, batch.scores[0], strict=True)
            }
        return RowPrediction(plain(batch.values[0]), scores=scores)

    def describe(self) -> dict[str, Any]:
        return {
            "flavor": self.flavor,
            "task": self.task,
            "features": list(self.features),
            "classes": [plain(c) for c in self.classes] if self.classes is not None else None,
        }


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def missing_feature(name: str) -> FlavorError:
    """The one refusal of an input that lacks a feature the model needs."""
    return FlavorError(f"The model needs feature '{name}', which the input lacks.")


def require_features(needed: tuple[str, ...], given: Mapping[str, Any]) -> None:
    """Refuse, naming it, the first feature the model needs that the input lacks."""
    for name in needed:
        if name not in given:
            raise missing_feature(name)


def as_float(name: str, values: np.ndarray) -> np.ndarray:
    """A numeric feature as float64 (nulls are NaN); a text column is refused by name."""
    import numpy as np

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

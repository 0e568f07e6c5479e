"""``sklearn`` models, loaded from skops files with trusted types only.

skops rebuilds an object from a JSON schema plus numpy arrays and never unpickles; its
loader refuses any type outside a trusted set. modelyard trusts skops' defaults (builtins,
numpy, scipy and scikit-learn estimators) plus scikit-learn's own internal classes (tree
structures, tree predictors, distance metrics): names under ``sklearn.`` that are classes
defined there. A function is never trusted, not even scikit-learn's own: a
``FunctionTransformer(func=sklearn.datasets.fetch_openml)`` would call it on every
prediction. Anything else (a function from ``os``, a class from the uploader's code) is
refused with the list of offending types, a 422, before anything is constructed.
"""

from __future__ import annotations

import importlib
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.flavors._base import FlavorError, LoadedModel, Prediction, feature_list
from modelyard.kit.errors import Unprocessable
from modelyard.kit.extras import needs


class UntrustedTypes(Unprocessable):
    """The skops file would construct types modelyard does not trust; ``detail`` names them."""

    title = "Model holds untrusted types"


def is_trusted_class(name: str) -> bool:
    """Whether ``name`` (``module.qualname``) is a class scikit-learn defines."""
    if not name.startswith("sklearn."):
        return False
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        return False
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                found = getattr(found, attribute)
        except AttributeError:
            return False
        return isinstance(found, type) and found.__module__.startswith("sklearn.")
    return False


def untrusted_types(path: Path) -> list[str]:
    """The types outside skops' defaults that the file would construct."""
    with needs("sklearn"):
        from skops.io import get_untrusted_types

    try:
        found = get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise FlavorError(
            f"The artifact is not a skops file ({exc}); save the model with "
            "`skops.io.dump(model, 'model.skops')`."
        ) from exc
    return list(found)


def matrix(features: tuple[str, ...], columns: Mapping[str, np.ndarray]) -> np.ndarray:
    arrays = [columns[name] for name in features]
    if all(array.dtype.kind in "fiub" for array in arrays):
        return np.column_stack([array.astype(np.float64, copy=False) for array in arrays])
    return np.column_stack([array.astype(object) for array in arrays])


class SklearnModel(LoadedModel):
    flavor = "sklearn"

    def __init__(self, path: Path, parameters: Mapping[str, Any]) -> None:
        with needs("sklearn"):
            from sklearn.base import is_classifier
            from skops.io import load
            from skops.io.exceptions import UntrustedTypesFoundException

        extra = untrusted_types(path)
        refused = [name for name in extra if not is_trusted_class(name)]
        if refused:
            raise UntrustedTypes(
                "The skops file holds types modelyard does not trust: "
                f"{', '.join(refused)}. Only scikit-learn estimators, transformers and their "
                "parts, numpy and scipy types are loaded, never a function; replace custom "
                "code (functions, classes) with scikit-learn components.",
                extra={"types": refused},
            )
        try:
            model = load(path, trusted=extra or None)
        except UntrustedTypesFoundException as exc:  # pragma: no cover - checked just above
            raise FlavorError(f"The skops file holds untrusted types: {exc}") from exc
        except Exception as exc:
            raise FlavorError(f"The skops file could not be loaded: {exc}") from exc
        if not hasattr(model, "predict"):
            raise FlavorError(
                f"The skops file holds a {type(model).__name__}, which cannot predict."
            )
        self.model = model
        self.task = "classification" if is_classifier(model) else "regression"
        self.classes = (
            tuple(model.classes_)
            if self.task == "classification" and hasattr(model, "classes_")
            else None
        )
        names = feature_list(parameters)
        if names is None and hasattr(model, "feature_names_in_"):
            names = tuple(str(n) for n in model.feature_names_in_)
        if names is None:
            count = getattr(model, "n_features_in_", None)
            raise FlavorError(
                f"The model does not name its {count or ''} input columns; add `parameters.features` "
                "(the column names in input order) to the version."
            )
        count = getattr(model, "n_features_in_", None)
        if count is not None and count != len(names):
            raise FlavorError(
                f"The model takes {count} features but `parameters.features` names {len(names)}."
            )
        self.features = names
        self.has_scores = self.task == "classification" and hasattr(model, "predict_proba")

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        x = matrix(self.features, columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "X does not have valid feature names" and the like
            values = np.asarray(self.model.predict(x))
            scores = (
                np.asarray(self.model.predict_proba(x), dtype=np.float64)
                if self.has_scores
                else None
            )
        return Prediction(
            values.reshape(len(x)) if values.ndim > 1 and values.shape[1] == 1 else values, scores
        )

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"estimator": type(self.model).__name__}

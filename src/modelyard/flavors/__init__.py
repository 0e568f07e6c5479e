"""Model flavors: the one interface that validates, loads and runs a version's model.

The registry, evaluations, deployments and online predictions all go through it::

    from modelyard import flavors

    flavors.validate(flavor, parameters, has_artifact=...)  # a new version (registry), 400 if not
    flavors.check_artifact(flavor, parameters, path, limits=...)  # its upload loads (registry)
    model = flavors.load_model(flavor, parameters, path, artifact_sha256=sha)  # a LoadedModel
    model.predict({"x": np.array([...]), ...})  # a batch -> Prediction(values, scores)
    model.predict_row({"x": 1.5, ...})          # one row -> RowPrediction(value, binding, ...)
    model.features, model.optional_features, model.task, model.classes, model.describe()

Flavors (:data:`KNOWN_FLAVORS`):

- ``formula``: the parameters are the model (``parameters.kind``: ``linear``, or one of the
  S_max kinds of :mod:`modelyard.perfmodels`);
- ``sklearn``: a skops file, loaded with trusted types only;
- ``onnx``: an ONNX file, run by onnxruntime from bytes;
- ``generic`` and ``smax_profile``: stored files and parameters that are not runnable.

:data:`ARTIFACT_FLAVORS` need an artifact file; :data:`RUNNABLE_FLAVORS` can be loaded.
Every refusal is a :class:`FlavorError` (a 400 problem) that says what to do instead. Pickle
and joblib files are never loaded: :func:`load_model` refuses them by content
(:func:`modelyard.kit.security.looks_like_pickle`) whatever the flavor says.

Loaded models are kept in a small cache keyed by flavor, artifact hash and parameters, since
an evaluation worker loads the same version for every chunk of work it is given. numpy and
the flavors' libraries load with the first model, not with this package.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from modelyard.flavors._base import (
    TASKS,
    FlavorError,
    LoadedModel,
    Prediction,
    RowPrediction,
    Task,
    as_float,
)
from modelyard.flavors._formula import formula_kinds, load_formula
from modelyard.kit.archives import ArchiveLimits, check_zip
from modelyard.kit.security import PICKLE_REFUSAL, looks_like_pickle

__all__ = [
    "ARTIFACT_FLAVORS",
    "KNOWN_FLAVORS",
    "RUNNABLE_FLAVORS",
    "TASKS",
    "FlavorError",
    "LoadedModel",
    "Prediction",
    "RowPrediction",
    "Task",
    "as_float",
    "check_artifact",
    "formula_kinds",
    "load_model",
    "validate",
]

ARTIFACT_FLAVORS = ("sklearn", "onnx")
RUNNABLE_FLAVORS = ("formula", *ARTIFACT_FLAVORS)
KNOWN_FLAVORS = (*RUNNABLE_FLAVORS, "generic", "smax_profile")
CACHE_SIZE = 8

_cache: OrderedDict[tuple[str, str | None, bytes], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def validate(flavor: str, parameters: dict[str, Any], *, has_artifact: bool) -> None:
    """Refuse a new version that could not be used: an unknown flavor, an artifact flavor
    without its file, formula parameters that do not make a model."""
    if flavor not in KNOWN_FLAVORS:
        raise FlavorError(f"Unknown flavor '{flavor}'; use one of {', '.join(KNOWN_FLAVORS)}.")
    if flavor in ARTIFACT_FLAVORS and not has_artifact:
        raise FlavorError(
            f"A '{flavor}' version needs an artifact file; upload it as multipart field `file`."
        )
    if flavor == "formula":
        load_formula(parameters)


def check_artifact(
    flavor: str, parameters: dict[str, Any], path: Path, *, limits: ArchiveLimits
) -> None:
    """Prove at upload time that a runnable flavor's artifact loads: a skops file within
    ``limits`` (checked from its zip directory, before anything is unpacked) with trusted
    types only, an ONNX graph onnxruntime accepts. Artifacts are loaded later only after
    this check passed."""
    if flavor == "sklearn":
        check_zip(path, limits, metadata=("schema.json",))
    if flavor in ARTIFACT_FLAVORS:
        _load(flavor, parameters, path)


def load_model(
    flavor: str,
    parameters: dict[str, Any],
    artifact: Path | None,
    *,
    artifact_sha256: str | None = None,
    cached: bool = True,
) -> LoadedModel:
    """The model of a version; raises :class:`FlavorError` (a 400) naming the problem.

    Formulas (no artifact) are cached by their parameters; an artifact's model is cached only
    with ``artifact_sha256``, which pins the file's content. ``cached=False`` builds a model
    that stays out of the cache (the live loop's formulas, one per tuned overlay).
    """
    cacheable = cached and (artifact is None or artifact_sha256 is not None)
    key = (flavor, artifact_sha256, orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS))
    if cacheable:
        with _cache_lock:
            found = _cache.get(key)
            if found is not None:
                _cache.move_to_end(key)
                return found
    model = _load(flavor, parameters, artifact)
    if cacheable:
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return model


def _load(flavor: str, parameters: dict[str, Any], artifact: Path | None) -> LoadedModel:
    if flavor == "formula":
        return load_formula(parameters)
    if flavor not in RUNNABLE_FLAVORS:
        raise FlavorError(
            f"Versions of flavor '{flavor}' cannot be run; register the model as formula, "
            "sklearn (a skops file) or onnx to evaluate it."
        )
    if artifact is None:
        raise FlavorError(f"A '{flavor}' version needs its artifact file.")
    with artifact.open("rb") as handle:
        head = handle.read(16)
    if looks_like_pickle(head, artifact.name):
        raise FlavorError(PICKLE_REFUSAL)
    if flavor == "sklearn":
        from modelyard.flavors._sklearn import SklearnModel

        return SklearnModel(artifact, parameters)
    from modelyard.flavors._onnx import OnnxModel

    return OnnxModel(artifact, parameters)

"""Load a model version of any flavor safely, and predict on columns of a pyarrow batch.

- ``formula``: parameters are the model (``linear``; the S_max kinds of
  :mod:`modelyard.perfmodels`).
- ``sklearn``: a skops file, loaded with trusted types only.
- ``onnx``: an ONNX file, run by onnxruntime from bytes.

Pickle and joblib files are never loaded: :func:`load_model` refuses them by content, and
versions of flavor ``generic`` (opaque files) are not runnable. Loaded models are kept in a
small cache keyed by artifact hash and parameters, since an evaluation worker loads the same
version for every chunk of work it is given.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from modelyard.flavors._base import FlavorError, LoadedModel, Prediction, Task, as_float
from modelyard.flavors._formula import load_formula
from modelyard.registry.artifacts import PICKLE_REFUSAL, looks_like_pickle

RUNNABLE_FLAVORS = ("formula", "sklearn", "onnx")
CACHE_SIZE = 8

_cache: OrderedDict[tuple[str, str | None, bytes], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


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


def load_model(
    flavor: str,
    parameters: dict[str, Any],
    artifact: Path | None,
    *,
    artifact_sha256: str | None = None,
) -> LoadedModel:
    """The model of a version; raises :class:`FlavorError` (a 400) naming the problem.

    With ``artifact_sha256`` the result is cached (the hash pins the file's content).
    """
    key = (flavor, artifact_sha256, orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS))
    if artifact is None or artifact_sha256 is not None:
        with _cache_lock:
            cached = _cache.get(key)
            if cached is not None:
                _cache.move_to_end(key)
                return cached
    model = _load(flavor, parameters, artifact)
    if artifact is None or artifact_sha256 is not None:
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return model


def check_artifact(flavor: str, parameters: dict[str, Any], artifact: Path) -> None:
    """Prove at upload time that a version's artifact loads (skops types, ONNX graph)."""
    if flavor in ("sklearn", "onnx"):
        _load(flavor, parameters, artifact)


__all__ = [
    "RUNNABLE_FLAVORS",
    "FlavorError",
    "LoadedModel",
    "Prediction",
    "Task",
    "as_float",
    "check_artifact",
    "load_model",
]

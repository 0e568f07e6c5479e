"""Online predictions: a reference resolved to its version, the version's model loaded
through the flavor interface, a request's rows predicted.

A reference is resolved again on every request, but answered from memory while the
registry's generation (``modelyard.registry.generation``: it moves with every registry write,
by any process) is unchanged, so ``name@production`` follows an alias move with the next
request and costs no query otherwise. Loaded models come from :func:`modelyard.flavors.
load_model`, whose bounded cache is keyed by the version's artifact hash and parameters:
two references to one version share one model, and a new version is a new entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np
from pydantic import JsonValue

from modelyard import flavors
from modelyard.kit.db import Database
from modelyard.kit.errors import BadRequest
from modelyard.registry import service as registry
from modelyard.registry.artifacts import ArtifactStore
from modelyard.serving import _bodies, prediction_log

MAX_REFERENCES = 1024


@dataclass(frozen=True)
class Resolution:
    """A reference's version, and whether the model's predictions are logged."""

    version: registry.ResolvedVersion
    logged: bool


@dataclass(frozen=True)
class Served:
    resolved: registry.ResolvedVersion
    model: flavors.LoadedModel


class References:
    """Reference -> version, valid for one registry generation (bounded, per process)."""

    def __init__(self) -> None:
        self.generation: Any = None
        self.found: OrderedDict[str, Resolution] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, generation: Any, ref: str) -> Resolution | None:
        if generation != self.generation:
            return None
        return self.found.get(ref)

    def put(self, generation: Any, ref: str, resolved: Resolution) -> None:
        with self.lock:
            if self.generation != generation:
                self.generation, self.found = generation, OrderedDict()
            self.found[ref] = resolved
            while len(self.found) > MAX_REFERENCES:
                self.found.popitem(last=False)


def resolve(database: Database, ref: str) -> Resolution:
    with database.session() as session:
        version = registry.resolve(session, ref)
        return Resolution(version, prediction_log.is_logged(session, version.model))


def load(resolved: registry.ResolvedVersion, artifacts: ArtifactStore) -> flavors.LoadedModel:
    path = artifacts.open(resolved.artifact_sha256) if resolved.artifact_sha256 else None
    return flavors.load_model(
        resolved.flavor, resolved.parameters, path, artifact_sha256=resolved.artifact_sha256
    )


def _plain(values: np.ndarray) -> list[Any]:
    out: list[Any] = values.tolist()
    return out


def _refusal(inputs: dict[str, np.ndarray], exc: Exception) -> BadRequest:
    """A model that refused the rows: name the first column of text among numbers, else
    pass the model's own words on."""
    for name, values in inputs.items():
        if values.dtype.kind in "OUS":
            for value in values:
                if isinstance(value, str):
                    try:
                        float(value)
                    except ValueError:
                        return BadRequest(
                            f"Column '{name}' holds text ({value!r}) where the model expects "
                            "numbers.",
                            extra={"column": name},
                        )
    return BadRequest(f"The model could not predict on these rows: {exc}")


class Answer(TypedDict):
    """What a prediction request is answered with (serialised by hand: a hot path)."""

    predictions: list[JsonValue]
    model: str
    version: int
    scores: NotRequired[list[JsonValue]]
    classes: NotRequired[list[JsonValue]]


def predict(
    served: Served, body: bytes, content_type: str, log: prediction_log.PredictionLog | None = None
) -> Answer:
    """The answer to one request: ``predictions`` (as ``mlflow models serve`` names them), and
    for classifiers with probabilities ``scores`` in ``classes`` order. With ``log``, the
    body's columns and the predictions are kept for the model's prediction log."""
    model = served.model
    columns = _bodies.parse(body, content_type, model.features)
    _bodies.check_features(columns, model.features)
    wanted = set(model.features) | set(model.optional_features)
    inputs = {k: v for k, v in columns.items() if k in wanted}
    try:
        prediction = model.predict(inputs)
    except flavors.FlavorError:
        raise
    except (ValueError, TypeError) as exc:
        raise _refusal(inputs, exc) from exc
    if log is not None:
        log.add(served.resolved.model, served.resolved.version, columns, prediction.values)
    answer: Answer = {
        "predictions": _plain(prediction.values),
        "model": served.resolved.model,
        "version": served.resolved.version,
    }
    if prediction.scores is not None:
        answer["scores"] = _plain(prediction.scores)
        answer["classes"] = [
            c.item() if isinstance(c, np.generic) else c for c in model.classes or ()
        ]
    return answer

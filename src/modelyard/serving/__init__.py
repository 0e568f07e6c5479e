"""Online predictions: ``POST /api/models/{ref}/predict`` in ``modelyard serve``, and
``modelyard serve-model REF``, a process that serves that endpoint for one model alone.
Every flavor goes through the one flavor interface (:mod:`modelyard.flavors`); a model's
requests can be logged to datasets (:mod:`modelyard.serving.prediction_log`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.serving.prediction_log import PredictionLog

__all__ = ["PredictionLog"]


def __getattr__(name: str) -> Any:
    # Resolved on first use: ``modelyard.serving.schemas`` is imported by the Python client,
    # which must not load the database layer.
    if name == "PredictionLog":
        from modelyard.serving.prediction_log import PredictionLog

        return PredictionLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

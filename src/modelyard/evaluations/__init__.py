"""Evaluations: a model version scored on a dataset as a background job.

``service`` checks a submission up front (the version loads through :mod:`modelyard.flavors`,
the dataset has every column the model needs) and turns it into an evaluation row and a job;
``tasks`` is the job, which streams the dataset through ``runner`` in chunks and accumulates
``metrics``; ``service`` also reads, compares and trends what was recorded. ``warmup`` lets a
worker import the numeric libraries before its first evaluation. Other domains call
``service`` and read ``schemas`` and the metric rules of ``metrics``.
"""

from modelyard.evaluations.schemas import (
    EvaluationCreate,
    EvaluationOut,
    EvaluationPage,
    MetricTrend,
)

__all__ = ["EvaluationCreate", "EvaluationOut", "EvaluationPage", "MetricTrend"]

"""The evaluation loop: stream a dataset's Parquet in chunks, predict, accumulate metrics.

Only the columns the evaluation needs are read. Rows whose target or inputs are null (or,
for regression, whose target or prediction is not a finite number) are skipped and counted.
``progress`` is called after every chunk; it may raise (a cancelled job) to stop the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.evaluations.metrics import ClassificationMetrics, RegressionMetrics, label_strings
from modelyard.flavors import FlavorError, LoadedModel, Task, as_float
from modelyard.storage import ParquetBlob

MAX_SLICES = 100
SLICE_EXACT_LIMIT = 100_000

Progress = Callable[[int, int, int, int], None]
"""(rows done, rows in total, chunks done, chunks in total)."""


@dataclass(frozen=True)
class Plan:
    source: ParquetBlob
    target: str
    inputs: Mapping[str, str]
    """Model feature -> dataset column."""
    task: Task
    chunk_rows: int
    slice_by: str | None = None


@dataclass
class Outcome:
    rows: int
    evaluated: int
    skipped: int
    seconds: float
    metrics: dict[str, float | None]
    details: dict[str, Any] = field(default_factory=dict)


def _metrics(
    task: Task, model: LoadedModel, exact_limit: int | None = None
) -> RegressionMetrics | ClassificationMetrics:
    if task == "classification":
        return (
            ClassificationMetrics(model.classes)
            if exact_limit is None
            else ClassificationMetrics(model.classes, exact_limit)
        )
    return RegressionMetrics() if exact_limit is None else RegressionMetrics(exact_limit)


def _numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_dictionary(column.type):
        column = (
            column.dictionary_decode()
            if isinstance(column, pa.Array)
            else pc.cast(column, column.type.value_type)
        )
    values: np.ndarray = column.to_numpy(zero_copy_only=False)
    return values


def _valid_rows(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(column.null_count for column in batch.columns):
        return batch
    mask = None
    for column in batch.columns:
        if column.null_count:
            valid = pc.is_valid(column)
            mask = valid if mask is None else pc.and_(mask, valid)
    return batch.filter(mask)


def run(model: LoadedModel, plan: Plan, progress: Progress) -> Outcome:
    started = time.perf_counter()
    parquet = plan.source.open()
    total = parquet.metadata.num_rows
    chunks = max(1, -(-total // plan.chunk_rows))
    wanted = list(
        dict.fromkeys(
            [*plan.inputs.values(), plan.target, *([plan.slice_by] if plan.slice_by else [])]
        )
    )
    overall = _metrics(plan.task, model)
    slices: dict[str, RegressionMetrics | ClassificationMetrics] = {}
    rows = evaluated = 0
    for index, batch in enumerate(
        plan.source.batches(parquet, batch_size=plan.chunk_rows, columns=wanted), start=1
    ):
        rows += batch.num_rows
        batch = _valid_rows(batch)
        if batch.num_rows:
            evaluated += _evaluate_chunk(model, plan, batch, overall, slices)
        progress(rows, total, index, chunks)
    seconds = time.perf_counter() - started
    skipped = rows - (overall.count)
    details: dict[str, Any] = {
        "rows": rows,
        "skipped_rows": skipped,
        "seconds": round(seconds, 6),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "chunks": chunks,
        "model": model.describe(),
        **overall.details(),
    }
    if plan.slice_by:
        details["slices"] = {
            "column": plan.slice_by,
            "values": {
                value: {"metrics": acc.result(), **_slice_details(acc)}
                for value, acc in sorted(slices.items())
            },
        }
    return Outcome(
        rows=rows,
        evaluated=evaluated,
        skipped=skipped,
        seconds=seconds,
        metrics=overall.result(),
        details=details,
    )


def _slice_details(acc: RegressionMetrics | ClassificationMetrics) -> dict[str, Any]:
    if isinstance(acc, ClassificationMetrics):
        return {"confusion_matrix": acc.confusion()}
    return {}


def _evaluate_chunk(
    model: LoadedModel,
    plan: Plan,
    batch: pa.RecordBatch,
    overall: RegressionMetrics | ClassificationMetrics,
    slices: dict[str, RegressionMetrics | ClassificationMetrics],
) -> int:
    columns = {name: _numpy(batch.column(column)) for name, column in plan.inputs.items()}
    prediction = model.predict(columns)
    truth = _numpy(batch.column(plan.target))
    scores = prediction.scores
    if plan.task == "regression":
        y_true = as_float(plan.target, truth)
        y_pred = np.asarray(prediction.values, dtype=np.float64)
        keep = np.isfinite(y_true) & np.isfinite(y_pred)
        if not keep.all():
            y_true, y_pred = y_true[keep], y_pred[keep]
        selected: np.ndarray | None = None if keep.all() else keep
    else:
        y_true, y_pred, selected = truth, np.asarray(prediction.values), None
    _update(overall, y_true, y_pred, scores)
    if plan.slice_by:
        values = label_strings(_numpy(batch.column(plan.slice_by)))
        if selected is not None:
            values = values[selected]
            scores = scores[selected] if scores is not None else None
        for value in np.unique(values):
            key = str(value)
            if key not in slices:
                if len(slices) >= MAX_SLICES:
                    raise FlavorError(
                        f"Column '{plan.slice_by}' has more than {MAX_SLICES} distinct values; "
                        "slice by a column with few categories."
                    )
                slices[key] = _metrics(plan.task, model, SLICE_EXACT_LIMIT)
            mask = values == value
            _update(
                slices[key],
                y_true[mask],
                y_pred[mask],
                scores[mask] if scores is not None else None,
            )
    return len(y_true)


def _update(
    acc: RegressionMetrics | ClassificationMetrics,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray | None,
) -> None:
    if isinstance(acc, ClassificationMetrics):
        acc.update(y_true, y_pred, scores)
    else:
        acc.update(y_true, y_pred)

"""Input and output shapes of the evaluation endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from modelyard.jobs.schemas import JobOut, PriorityName

EvaluationStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TaskName = Literal["regression", "classification"]
DEFAULT_CHUNK_ROWS = 500_000


class EvaluationCreate(BaseModel):
    model: str = Field(max_length=300, description="`name`, `name/3` or `name@alias`.")
    version: int | None = Field(
        default=None, ge=1, le=999_999_999, description="If `model` is a bare name."
    )
    dataset: int | str = Field(description="The dataset's id (or its name).")
    target: str = Field(
        min_length=1, max_length=300, description="The column holding the true values."
    )
    features: dict[str, str] = Field(
        default_factory=dict,
        max_length=10_000,
        description="Model feature -> dataset column, where the names differ.",
    )
    slice_by: str | None = Field(
        default=None,
        max_length=300,
        description="Also compute the metrics per value of this column.",
    )
    task: TaskName | None = Field(default=None, description="Default: what the model is.")
    priority: PriorityName | int = Field(
        default="normal", description="low, normal, high, urgent or 0-100."
    )
    chunk_rows: int = Field(
        default=DEFAULT_CHUNK_ROWS, ge=1, le=5_000_000, description="Rows per chunk."
    )


class DatasetRef(BaseModel):
    id: int | None = Field(description="Null once the dataset is deleted.")
    name: str


class EvaluationProgress(BaseModel):
    fraction: float
    rows_done: int
    rows_total: int


class EvaluationOut(BaseModel):
    id: int
    status: EvaluationStatus
    model: str
    version: int
    dataset: DatasetRef
    target: str
    features: dict[str, str] = Field(description="Model feature -> dataset column, as used.")
    slice_by: str | None
    task: TaskName
    priority: str
    job_id: int | None
    progress: EvaluationProgress
    metrics: dict[str, float | None] = Field(
        description="mae, rmse, mape (percent), r2, max_error, mean_error, error_p50..p99; "
        "or accuracy, precision, recall, f1, roc_auc."
    )
    details: dict[str, Any] = Field(description="Confusion matrix, slices, skipped rows, timing.")
    error: str | None
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class EvaluationCreated(EvaluationOut):
    job: JobOut


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    next_cursor: str | None


class ComparedEvaluation(BaseModel):
    id: int
    model: str
    version: int
    dataset: DatasetRef
    status: EvaluationStatus
    task: TaskName


class ComparedMetric(BaseModel):
    metric: str
    direction: Literal["lower", "higher", "zero"] | None = Field(
        description="Which value is better: lower, higher, or closest to zero; null if not comparable."
    )
    values: list[float | None] = Field(
        description="One per evaluation, in the order of `evaluations`."
    )
    best: int | None = Field(
        description="The id of the best evaluation; null on a tie or if unknown."
    )


class Comparison(BaseModel):
    evaluations: list[ComparedEvaluation]
    metrics: list[ComparedMetric]


class TrendPoint(BaseModel):
    version: int
    dataset: DatasetRef
    value: float | None
    evaluation_id: int
    evaluated_at: dt.datetime | None


class MetricTrend(BaseModel):
    model: str
    metric: str
    direction: Literal["lower", "higher", "zero"] | None
    points: list[TrendPoint] = Field(
        description="Oldest version first; the latest evaluation per version and dataset."
    )

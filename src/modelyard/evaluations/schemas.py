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
    name: str = Field(description="The dataset's name (kept after a delete).")


class EvaluationProgress(BaseModel):
    fraction: float = Field(description="Share of the rows predicted and scored, 0 to 1.")
    rows_done: int = Field(description="Rows done so far.")
    rows_total: int = Field(description="Rows in the dataset.")


class EvaluationOut(BaseModel):
    id: int = Field(description="The evaluation's id.")
    status: EvaluationStatus = Field(description="queued, running, succeeded, failed or cancelled.")
    model: str = Field(description="The model's name.")
    version: int = Field(description="The version evaluated.")
    dataset: DatasetRef = Field(description="The dataset it was evaluated on.")
    target: str = Field(description="The column holding the true values.")
    features: dict[str, str] = Field(description="Model feature -> dataset column, as used.")
    slice_by: str | None = Field(
        description="The column the metrics are also computed per value of, if any."
    )
    task: TaskName = Field(description="regression or classification.")
    priority: str = Field(description="The job's priority.")
    job_id: int | None = Field(description="The job that runs it.")
    progress: EvaluationProgress = Field(description="How far it has gone.")
    metrics: dict[str, float | None] = Field(
        description="mae, rmse, mape (percent), r2, max_error, mean_error, error_p50..p99; "
        "or accuracy, precision, recall, f1, roc_auc."
    )
    details: dict[str, Any] = Field(description="Confusion matrix, slices, skipped rows, timing.")
    error: str | None = Field(description="Why it failed, if it did.")
    created_by: str = Field(description="The user who started it.")
    created_at: dt.datetime = Field(description="When it was asked for (UTC).")
    started_at: dt.datetime | None = Field(description="When its job started (UTC).")
    finished_at: dt.datetime | None = Field(description="When it ended (UTC).")


class EvaluationCreated(EvaluationOut):
    job: JobOut = Field(description="The job that runs it: follow it at /api/jobs/{id}.")


class EvaluationPage(BaseModel):
    items: list[EvaluationOut] = Field(description="This page's evaluations, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class ComparedEvaluation(BaseModel):
    id: int = Field(description="The evaluation's id.")
    model: str = Field(description="The model's name.")
    version: int = Field(description="The version evaluated.")
    dataset: DatasetRef = Field(description="The dataset it was evaluated on.")
    status: EvaluationStatus = Field(description="Its status.")
    task: TaskName = Field(description="regression or classification.")


class ComparedMetric(BaseModel):
    metric: str = Field(description="The metric's name.")
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
    evaluations: list[ComparedEvaluation] = Field(
        description="The evaluations compared, in the order asked."
    )
    metrics: list[ComparedMetric] = Field(
        description="Each metric any of them has, with one value per evaluation."
    )


class TrendPoint(BaseModel):
    version: int = Field(description="The version's number.")
    dataset: DatasetRef = Field(description="The dataset evaluated on.")
    value: float | None = Field(description="The metric's value.")
    evaluation_id: int = Field(description="The evaluation that measured it.")
    evaluated_at: dt.datetime | None = Field(description="When it finished (UTC).")


class MetricTrend(BaseModel):
    model: str = Field(description="The model's name.")
    metric: str = Field(description="The metric followed.")
    direction: Literal["lower", "higher", "zero"] | None = Field(
        description="Which value is better: lower, higher or closest to zero."
    )
    points: list[TrendPoint] = Field(
        description="Oldest version first; the latest evaluation per version and dataset."
    )

"""Input and output shapes of the drift endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from modelyard.jobs.schemas import JobOut, PriorityName

DriftStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
NumericMethod = Literal["auto", "ks", "wasserstein", "psi", "jensenshannon"]
CategoricalMethod = Literal["auto", "chisquare", "jensenshannon", "psi"]


class DriftCreate(BaseModel):
    reference: int | str = Field(description="The reference dataset's id (or its name).")
    current: int | str = Field(description="The current dataset's id (or its name).")
    columns: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="Columns to compare; default: every column both datasets have, of a "
        "numeric or categorical (text, boolean) type.",
    )
    numeric_method: NumericMethod = Field(
        default="auto",
        description="auto: KS (p <= 0.05) up to 1000 reference values, else Wasserstein "
        "normalised by the reference's std (>= 0.1); numbers with at most 5 distinct values "
        "are compared as categories.",
    )
    categorical_method: CategoricalMethod = Field(
        default="auto",
        description="auto: chi-squared (p < 0.05; z-test for 2 categories) up to 1000 "
        "reference values, else Jensen-Shannon distance (>= 0.1).",
    )
    column_threshold: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="A p-value (ks, chisquare, z) or distance (wasserstein, jensenshannon, "
        "psi) instead of the method's default.",
    )
    drift_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="The dataset drifts when at least this share of columns drifted.",
    )
    batch_rows: int = Field(
        default=65_536, ge=1_000, le=5_000_000, description="Rows read per record batch."
    )
    priority: PriorityName | int = Field(
        default="normal", description="low, normal, high, urgent or 0-100."
    )


class DatasetRef(BaseModel):
    id: int | None = Field(description="Null once the dataset is deleted.")
    name: str = Field(description="The dataset's name (kept after a delete).")


class DriftColumn(BaseModel):
    name: str = Field(description="The column's name.")
    kind: Literal["numeric", "categorical"] = Field(
        description="numeric or categorical: which tests compare it."
    )


class DriftProgress(BaseModel):
    fraction: float = Field(description="Share of the columns compared, 0 to 1.")
    columns_done: int = Field(description="Columns compared so far.")
    columns_total: int = Field(description="Columns to compare.")


class DriftSummary(BaseModel):
    columns: int = Field(description="Columns asked for.")
    compared_columns: int = Field(
        description="Columns compared (both datasets have them, of a usable type)."
    )
    drifted_columns: int = Field(description="Columns found drifted.")
    drifted: list[str] = Field(description="The drifted columns' names.")
    share_drifted: float = Field(description="drifted_columns / compared_columns.")
    drift_share: float = Field(description="The share above which the dataset counts as drifted.")
    dataset_drifted: bool = Field(description="Whether share_drifted reached drift_share.")
    seconds: float | None = Field(default=None, description="How long the comparison took.")


class DriftOut(BaseModel):
    id: int = Field(description="The check's id.")
    status: DriftStatus = Field(description="queued, running, succeeded, failed or cancelled.")
    reference: DatasetRef = Field(
        description="The dataset compared against (the training data, say)."
    )
    current: DatasetRef = Field(description="The dataset compared (recent data, say).")
    columns: list[DriftColumn] = Field(description="The columns compared, with their kind.")
    options: dict[str, Any] = Field(description="The methods and thresholds used.")
    priority: str = Field(description="The job's priority.")
    job_id: int | None = Field(description="The job that runs it.")
    progress: DriftProgress = Field(description="How far the comparison has gone.")
    dataset_drifted: bool | None = Field(description="Null until the check has succeeded.")
    summary: DriftSummary | None = Field(
        description="Counts of drifted columns; null until it succeeded."
    )
    results: list[dict[str, Any]] = Field(
        description="Per column: name, kind, method, statistic, p_value, threshold, drifted, "
        "statistics (every statistic of its kind), reference/current summaries, histogram "
        "(edges or categories with reference and current counts)."
    )
    error: str | None = Field(description="Why it failed, if it did.")
    created_by: str = Field(description="The user who started it.")
    created_at: dt.datetime = Field(description="When it was asked for (UTC).")
    started_at: dt.datetime | None = Field(description="When its job started (UTC).")
    finished_at: dt.datetime | None = Field(description="When it ended (UTC).")


class DriftCreated(DriftOut):
    job: JobOut = Field(description="The job that runs the check: follow it at /api/jobs/{id}.")


class DriftPage(BaseModel):
    items: list[DriftOut] = Field(description="Without per-column results (see GET /drift/{id}).")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )

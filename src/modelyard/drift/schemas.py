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
    name: str


class DriftColumn(BaseModel):
    name: str
    kind: Literal["numeric", "categorical"]


class DriftProgress(BaseModel):
    fraction: float
    columns_done: int
    columns_total: int


class DriftSummary(BaseModel):
    columns: int
    compared_columns: int
    drifted_columns: int
    drifted: list[str] = Field(description="The drifted columns' names.")
    share_drifted: float
    drift_share: float
    dataset_drifted: bool


class DriftOut(BaseModel):
    id: int
    status: DriftStatus
    reference: DatasetRef
    current: DatasetRef
    columns: list[DriftColumn]
    options: dict[str, Any]
    priority: str
    job_id: int | None
    progress: DriftProgress
    dataset_drifted: bool | None = Field(description="Null until the check has succeeded.")
    summary: DriftSummary | None
    results: list[dict[str, Any]] = Field(
        description="Per column: name, kind, method, statistic, p_value, threshold, drifted, "
        "statistics (every statistic of its kind), reference/current summaries, histogram "
        "(edges or categories with reference and current counts)."
    )
    error: str | None
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class DriftCreated(DriftOut):
    job: JobOut


class DriftPage(BaseModel):
    items: list[DriftOut] = Field(description="Without per-column results (see GET /drift/{id}).")
    next_cursor: str | None

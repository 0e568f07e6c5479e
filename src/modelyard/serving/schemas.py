"""Input and output of the prediction-log endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from modelyard.datasets.schemas import DatasetOut


class PredictionLogUpdate(BaseModel):
    enabled: bool = Field(
        description="Log every predict request of the model (its columns and predictions) "
        "to datasets.",
        examples=[True],
    )


class PredictionLogOut(BaseModel):
    model: str = Field(description="The model's name.")
    enabled: bool = Field(description="Whether its predict requests are logged.")
    updated_by: str | None = Field(description="Who last switched it; null if nobody has.")
    updated_at: dt.datetime | None = Field(description="When it was last switched (UTC).")
    buffered_rows: int = Field(
        description="Logged rows waiting in the process that answered, not yet a dataset."
    )
    dropped_rows: int = Field(
        description="Rows that process did not log because its buffer was full (datasets "
        "could not be written) or the rows were refused."
    )
    batch_rows: int = Field(
        description="A buffer becomes a dataset at this many rows "
        "(MODELYARD_SERVING__LOG_BATCH_ROWS)..."
    )
    flush_seconds: float = Field(
        description="...or when its oldest row is this old (MODELYARD_SERVING__LOG_FLUSH_SECONDS)."
    )


class PredictionLogFlushed(BaseModel):
    model: str = Field(description="The model's name.")
    datasets: list[DatasetOut] = Field(
        description="The dataset made of the rows this process held; empty if it held none."
    )

"""Input and output shapes of the dataset endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

DATASET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"

FormatName = Literal["csv", "parquet", "jsonl"]
CompressionName = Literal["none", "gzip", "zstd"]


class ColumnOut(BaseModel):
    name: str
    type: str = Field(description="The Arrow type, e.g. int64, double, string, timestamp[s].")


class DatasetOut(BaseModel):
    id: int
    name: str
    description: str
    filename: str
    format: FormatName = Field(description="As uploaded; every dataset is stored as Parquet.")
    compression: CompressionName
    sha256: str = Field(description="Of the bytes as uploaded.")
    size_bytes: int
    stored_bytes: int
    row_count: int
    columns: list[ColumnOut]
    created_by: str
    created_at: dt.datetime


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    next_cursor: str | None


class PreviewOut(BaseModel):
    dataset: int
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]


class UploadCreate(BaseModel):
    filename: str = Field(
        default="",
        max_length=255,
        description="Its suffixes (.csv.gz) are checked against the bytes.",
    )
    size: int | None = Field(
        default=None, ge=1, description="The total size, if known; `complete` checks it."
    )
    name: str | None = Field(default=None, pattern=DATASET_NAME_PATTERN)
    description: str = Field(default="", max_length=10_000)
    format: FormatName | None = None
    compression: CompressionName | None = None


class UploadOut(BaseModel):
    id: str
    filename: str
    name: str | None
    size: int | None
    received: int = Field(description="Bytes stored so far: the offset of the next chunk.")
    status: Literal["open", "completing"]
    chunk_bytes: int = Field(description="A suggested chunk size.")
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class UploadComplete(BaseModel):
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description="If given, the whole file must hash to it.",
    )

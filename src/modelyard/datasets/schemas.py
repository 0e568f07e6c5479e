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
    name: str = Field(description="The column's name.")
    type: str = Field(description="The Arrow type, e.g. int64, double, string, timestamp[s].")


class DatasetOut(BaseModel):
    id: int = Field(description="The dataset's id.")
    name: str = Field(description="Its name, unique.")
    description: str = Field(description="What it holds.")
    filename: str = Field(description="The uploaded file's name, a label only.")
    format: FormatName = Field(description="As uploaded; every dataset is stored as Parquet.")
    compression: CompressionName = Field(description="none, gzip or zstd, as uploaded.")
    sha256: str = Field(description="Of the bytes as uploaded.")
    size_bytes: int = Field(description="Bytes as uploaded.")
    stored_bytes: int = Field(description="Bytes of the stored Parquet file.")
    row_count: int = Field(description="Rows.")
    columns: list[ColumnOut] = Field(description="Each column's name and Arrow type.")
    created_by: str = Field(description="The user who uploaded it.")
    created_at: dt.datetime = Field(description="When it was uploaded (UTC).")


class DatasetPage(BaseModel):
    items: list[DatasetOut] = Field(description="This page's datasets, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class PreviewOut(BaseModel):
    dataset: int = Field(description="The dataset's id.")
    columns: list[ColumnOut] = Field(description="Each column's name and Arrow type.")
    rows: list[dict[str, Any]] = Field(description="The first rows, column -> value.")


class UploadCreate(BaseModel):
    filename: str = Field(
        default="",
        max_length=255,
        description="Its suffixes (.csv.gz) are checked against the bytes.",
    )
    size: int | None = Field(
        default=None, ge=1, description="The total size, if known; `complete` checks it."
    )
    name: str | None = Field(
        description="The dataset's name (default: from the file name).",
        default=None,
        pattern=DATASET_NAME_PATTERN,
    )
    description: str = Field(description="What it holds.", default="", max_length=10_000)
    format: FormatName | None = Field(
        None, description="csv, parquet or jsonl; default: from the bytes."
    )
    compression: CompressionName | None = Field(
        None, description="none, gzip or zstd; default: from the bytes."
    )


class UploadOut(BaseModel):
    id: str = Field(description="The upload's id: the path of its chunks and `complete`.")
    filename: str = Field(description="The file's name, a label only.")
    name: str | None = Field(description="The dataset's name, if given.")
    size: int | None = Field(description="The total size, if given.")
    received: int = Field(description="Bytes stored so far: the offset of the next chunk.")
    status: Literal["open", "completing"] = Field(
        description="open: taking chunks; completing: being checked and converted."
    )
    converted: int | None = Field(
        default=None,
        description="While completing: bytes of the file checked and converted to Parquet so "
        "far (of `received`); null before.",
    )
    chunk_bytes: int = Field(description="A suggested chunk size.")
    created_by: str = Field(description="The user who started it.")
    created_at: dt.datetime = Field(description="When it started (UTC).")
    updated_at: dt.datetime = Field(description="When a chunk last arrived (UTC).")


class UploadComplete(BaseModel):
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description="If given, the whole file must hash to it.",
    )

"""Datasets (stored once as Parquet) and the resumable uploads that become them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.kit.db import Base
from modelyard.kit.time import utcnow


class Dataset(Base):
    """A validated table: the upload's hash and shape, and where its Parquet copy lives."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    format: Mapped[str] = mapped_column(sa.String(16))
    """The format as uploaded: csv, parquet or jsonl."""
    compression: Mapped[str] = mapped_column(sa.String(16))
    """The compression as uploaded: none, gzip or zstd."""
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    """Of the bytes as uploaded (compressed, if they were)."""
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    stored_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    storage_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class DatasetUpload(Base):
    """A resumable upload in progress: chunks are appended at ``received``."""

    __tablename__ = "dataset_uploads"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    name: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    format: Mapped[str | None] = mapped_column(sa.String(16))
    compression: Mapped[str | None] = mapped_column(sa.String(16))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    """The total size the client announced, if it did."""
    received: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    """``open`` (accepting chunks) or ``completing`` (being validated)."""
    converted: Mapped[int | None] = mapped_column(sa.BigInteger)
    """While completing: bytes of the file checked and converted so far."""
    created_by: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

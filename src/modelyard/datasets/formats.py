"""What a dataset file is: its compression and table format, from its first bytes and its name.

The bytes decide; the file name (``data.csv.gz``) and explicit ``format``/``compression``
fields are claims that must agree with them, so a file compressed other than claimed, or
a Parquet file named ``.csv``, is refused with the reason instead of being misread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import zstandard

from modelyard.config import Settings
from modelyard.kit.errors import BadRequest, PayloadTooLarge
from modelyard.kit.security import looks_like_pickle

Format = Literal["csv", "parquet", "jsonl"]
Compression = Literal["none", "gzip", "zstd"]

FORMATS: tuple[Format, ...] = ("csv", "parquet", "jsonl")
COMPRESSIONS: tuple[Compression, ...] = ("none", "gzip", "zstd")

_COMPRESSION_SUFFIXES: dict[str, Compression] = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".zst": "zstd",
    ".zstd": "zstd",
}
_FORMAT_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_MAGIC_GZIP = b"\x1f\x8b"
_MAGIC_ZSTD = b"\x28\xb5\x2f\xfd"
_MAGIC_PARQUET = b"PAR1"
_MAGIC_OTHERS = {
    b"PK\x03\x04": "a zip archive",
    b"BZh": "bzip2-compressed",
    b"\xfd7zXZ\x00": "xz-compressed",
    b"\x04\x22\x4d\x18": "lz4-compressed",
    b"ARROW1": "an Arrow IPC file",
    b"\x89HDF": "an HDF5 file",
    b"SQLite format 3": "an SQLite database",
}
SNIFF_BYTES = 64 * 1024

PICKLE_DATASET_REFUSAL = (
    "Pickle and joblib files are refused: loading one runs arbitrary code. Upload the "
    "table as CSV, Parquet or JSON Lines (optionally gzip- or zstd-compressed) instead."
)


class DatasetRejected(BadRequest):
    """The file is not a dataset modelyard can read; ``detail`` says where and why."""

    title = "Invalid dataset"


class DatasetOverLimit(PayloadTooLarge):
    """The file would be larger than a configured limit once read; ``detail`` names it."""

    title = "Dataset over a limit"


INFLATION_FLOOR_BYTES = 64 << 20
"""Any compressed upload may inflate this far, whatever its ratio (a tiny file is fine)."""


@dataclass(frozen=True)
class IngestLimits:
    """What reading one upload may cost, from ``storage`` settings (see config.py)."""

    decompressed_bytes: int
    inflation: float
    rows: int
    parquet_metadata_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> IngestLimits:
        storage = settings.storage
        return cls(
            decompressed_bytes=storage.max_dataset_decompressed_bytes,
            inflation=storage.max_dataset_inflation,
            rows=storage.max_dataset_rows,
            parquet_metadata_bytes=storage.max_parquet_metadata_bytes,
        )

    def decompressed_for(self, compressed_bytes: int) -> tuple[int, str]:
        """How far a file of ``compressed_bytes`` may inflate, and the setting that says so."""
        by_ratio = max(INFLATION_FLOOR_BYTES, int(self.inflation * compressed_bytes))
        if by_ratio < self.decompressed_bytes:
            return by_ratio, f"MODELYARD_STORAGE__MAX_DATASET_INFLATION={self.inflation:g}"
        return (
            self.decompressed_bytes,
            f"MODELYARD_STORAGE__MAX_DATASET_DECOMPRESSED_BYTES={self.decompressed_bytes}",
        )


@dataclass(frozen=True)
class Claims:
    """What the client says the file is (from its name or explicit fields)."""

    format: Format | None = None
    compression: Compression | None = None
    source: str = "the request"


@dataclass(frozen=True)
class Sniffed:
    format: Format
    compression: Compression


def claims_from_filename(filename: str | None) -> Claims:
    if not filename:
        return Claims()
    lower = filename.lower()
    compression: Compression | None = None
    for suffix, kind in _COMPRESSION_SUFFIXES.items():
        if lower.endswith(suffix):
            compression = kind
            lower = lower[: -len(suffix)]
            break
    file_format = next(
        (fmt for suffix, fmt in _FORMAT_SUFFIXES.items() if lower.endswith(suffix)), None
    )
    if compression is None and file_format is not None:
        compression = "none"
    return Claims(format=file_format, compression=compression, source=f"the file name '{filename}'")


def merge_claims(filename: str | None, fmt: str | None, compression: str | None) -> Claims:
    """Explicit fields win over the file name's suffixes."""
    if fmt is not None and fmt not in FORMATS:
        raise BadRequest(f"Unknown format '{fmt}'; use one of {', '.join(FORMATS)}.")
    if compression is not None and compression not in COMPRESSIONS:
        raise BadRequest(
            f"Unknown compression '{compression}'; use one of {', '.join(COMPRESSIONS)}."
        )
    from_name = claims_from_filename(filename)
    if fmt is None and compression is None:
        return from_name
    return Claims(
        format=fmt or from_name.format,
        compression=compression or from_name.compression,
        source="the `format`/`compression` fields",
    )


def sniff_compression(head: bytes) -> Compression:
    if head.startswith(_MAGIC_GZIP):
        return "gzip"
    if head.startswith(_MAGIC_ZSTD):
        return "zstd"
    return "none"


def decompress_head(head: bytes, compression: Compression) -> bytes:
    """The first decompressed bytes (enough to sniff the format); the stream may be cut."""
    try:
        if compression == "gzip":
            return zlib.decompressobj(wbits=31).decompress(head, SNIFF_BYTES)
        if compression == "zstd":
            return zstandard.ZstdDecompressor().decompressobj().decompress(head)[:SNIFF_BYTES]
    except (zlib.error, zstandard.ZstdError) as exc:
        raise DatasetRejected(
            f"The file starts like {compression} data but does not decompress: {exc}."
        ) from exc
    return head


def _describe_binary(head: bytes) -> str | None:
    for magic, what in _MAGIC_OTHERS.items():
        if head.startswith(magic):
            return what
    return None


def sniff_format(head: bytes) -> Format | None:
    """Parquet by its magic, JSON Lines by a leading ``{``, CSV if the start is text."""
    if head.startswith(_MAGIC_PARQUET):
        return "parquet"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return "jsonl"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed bytes is still text.
        if exc.start < len(head) - 4:
            return None
    return "csv"


def sniff(head: bytes, filename: str | None, claims: Claims) -> Sniffed:
    """Decide the file's format and compression, refusing any mismatch with the claims."""
    if not head:
        raise DatasetRejected("The file is empty.")
    if looks_like_pickle(head[:16], filename):
        raise DatasetRejected(PICKLE_DATASET_REFUSAL)
    compression = sniff_compression(head)
    if claims.compression is not None and claims.compression != compression:
        actual = "not compressed" if compression == "none" else f"{compression}-compressed"
        raise DatasetRejected(
            f"{claims.source.capitalize()} says {claims.compression} compression, but the file is {actual}."
        )
    inner = decompress_head(head, compression)
    if not inner.strip():
        raise DatasetRejected("The file is empty (no rows and no header).")
    if compression != "none" and looks_like_pickle(inner[:16], None):
        raise DatasetRejected(PICKLE_DATASET_REFUSAL)
    what = _describe_binary(inner)
    fmt = None if what else sniff_format(inner)
    if fmt is None:
        what = what or "binary data"
        raise DatasetRejected(
            f"The file is {what}, not CSV, Parquet or JSON Lines (plain, gzip or zstd)."
        )
    if fmt == "csv" and claims.format in (None, "jsonl") and inner.lstrip().startswith(b"["):
        raise DatasetRejected(
            "The file is one JSON array; upload JSON Lines instead: one JSON object per line."
        )
    if claims.format is not None and claims.format != fmt:
        raise DatasetRejected(
            f"{claims.source.capitalize()} says {claims.format}, but the content is {_format_name(fmt)}."
        )
    return Sniffed(format=fmt, compression=compression)


def _format_name(fmt: Format) -> str:
    return {"csv": "CSV text", "parquet": "Parquet", "jsonl": "JSON Lines"}[fmt]

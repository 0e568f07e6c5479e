"""Validate an uploaded file in one streaming pass and store it once as Parquet.

The raw file (already on disk) is read through pyarrow's decompressing stream and its
streaming CSV or JSON reader, one block at a time, and written batch by batch to a Parquet
file: memory stays bounded by the block and row-group sizes whatever the file's size. A
Parquet upload is read through once to prove every row group decodes, then kept as is.

The fast path trusts the types inferred from the first block. When a later block does not
fit (an integer column that turns out to hold ``1.5``), the column is widened
(null -> float64 -> string, integer -> float64 -> string) and the pass restarts; this costs a
second pass only on such files. Errors that cannot be fixed by widening are located
precisely by a slower diagnostic pass (Python's ``csv`` module or ``orjson`` per line) so
that the 4xx names the line, and for JSON also the column, at fault.

Limits (:class:`IngestLimits`, from the ``storage`` settings) hold during the pass itself, so
a decompression bomb costs what its first blocks cost: a compressed stream stops where it
would inflate past its limit, the rows are counted batch by batch, and a Parquet file's
footer length is read from its last bytes before pyarrow parses the footer. Each is a 413
problem naming the setting to raise.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from modelyard.datasets.formats import (
    SNIFF_BYTES,
    Claims,
    Compression,
    DatasetOverLimit,
    DatasetRejected,
    Format,
    IngestLimits,
    Sniffed,
    sniff,
)
from modelyard.kit.errors import note_path, reraise_if_disk_full

BLOCK_BYTES = 512 << 10
# pyarrow's streaming readers read ~36 blocks ahead: 1 MiB blocks keep that near 40 MiB
# (4 MiB blocks took 150 MiB). A JSON line longer than a block needs a larger one.
LONG_LINE_BLOCK_BYTES = 64 << 20
ROW_GROUP_ROWS = 131072
MAX_COLUMNS = 10_000

_RAGGED = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+):")
_DECOMPRESSION_HINTS = (
    "zlib",
    "gzip",
    "inflate",
    "zstd",
    "ZSTD",
    "compressed",
    "truncated",
    "Truncated",
)

StreamOpener = Callable[[], pa.NativeFile]
Progress = Callable[[int, int], None]
"""Told ``(bytes of the uploaded file read so far, its size)`` as a conversion goes on; a
second pass (a column widened) starts again from 0."""


def _ingest_pool() -> pa.MemoryPool:
    """jemalloc set to hand freed pages back at once, when pyarrow has it: the server's
    memory then falls back after each upload (the default pool kept about twice as much)."""
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowNotImplementedError):  # pragma: no cover - build option
        return pa.default_memory_pool()
    return pool


@dataclass(frozen=True)
class IngestResult:
    format: Format
    compression: Compression
    row_count: int
    columns: list[dict[str, str]]
    stored_bytes: int


def ingest(
    raw: Path,
    dest: Path,
    *,
    filename: str | None,
    claims: Claims,
    limits: IngestLimits,
    progress: Progress | None = None,
) -> IngestResult:
    """Check ``raw`` and write it as Parquet to ``dest`` (atomically); raise DatasetRejected,
    or DatasetOverLimit past one of ``limits``.

    ``raw`` may be moved to ``dest`` (an uncompressed Parquet upload) or left for the caller
    to delete. ``progress`` is told how far the pass has read, once per block.
    """
    with raw.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    sniffed = sniff(head, filename, claims)
    size = raw.stat().st_size
    most, setting = limits.decompressed_for(size)
    reading: list[pa.NativeFile] = []

    def open_stream() -> pa.NativeFile:
        # pa.input_stream's layers, keeping the file itself: its position is the progress
        source = pa.OSFile(str(raw))
        reading[:] = [source]
        stream: pa.NativeFile = pa.BufferedInputStream(source, 1 << 20)
        if sniffed.compression != "none":
            inflating = pa.CompressedInputStream(stream, sniffed.compression)
            stream = pa.PythonFile(_Bounded(inflating, most, setting), mode="r")
        return stream

    def told() -> None:
        if progress is not None and reading and not reading[0].closed:
            progress(min(reading[0].tell(), size), size)

    partial = dest.with_name(dest.name + ".partial")
    try:
        return _ingest(raw, dest, partial, sniffed, open_stream, told, size, progress, limits)
    except OSError as exc:
        note_path(exc, partial)
        raise


class _Bounded:
    """A decompressing stream that stops (413) before it yields more than ``most`` bytes."""

    def __init__(self, source: pa.NativeFile, most: int, setting: str) -> None:
        self.source = source
        self.most = most
        self.setting = setting
        self.count = 0

    @property
    def closed(self) -> bool:
        return bool(self.source.closed)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        room = self.most + 1 - self.count  # one byte past the limit proves the file goes on
        data: bytes = self.source.read(room if size is None or size < 0 else min(size, room))
        self.count += len(data)
        if self.count > self.most:
            raise DatasetOverLimit(
                f"The file inflates past {self.most:,} bytes once decompressed; a compressed "
                f"dataset may inflate to at most that ({self.setting})."
            )
        return data

    def close(self) -> None:
        self.source.close()


def _ingest(
    raw: Path,
    dest: Path,
    partial: Path,
    sniffed: Sniffed,
    open_stream: StreamOpener,
    told: Callable[[], None],
    size: int,
    progress: Progress | None,
    limits: IngestLimits,
) -> IngestResult:
    def columns_done(done: int, total: int) -> None:
        if progress is not None:
            progress(size * done // max(total, 1), size)

    try:
        if sniffed.format == "parquet":
            if sniffed.compression == "none":
                rows, schema = _check_parquet(raw, limits, columns_done)
                os.replace(raw, dest)
            else:
                _decompress_to(open_stream, partial)
                rows, schema = _check_parquet(partial, limits, columns_done)
                os.replace(partial, dest)
        else:
            convert = _csv_to_parquet if sniffed.format == "csv" else _jsonl_to_parquet
            rows, schema = convert(open_stream, partial, told, most_rows=limits.rows)
            os.replace(partial, dest)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    if rows == 0 or len(schema) == 0:
        with suppress(FileNotFoundError):
            dest.unlink()
        raise DatasetRejected(
            "The file has a header but no data rows."
            if rows == 0
            else "The file has no columns: a dataset needs at least one named column."
        )
    return IngestResult(
        format=sniffed.format,
        compression=sniffed.compression,
        row_count=rows,
        columns=[{"name": field.name, "type": str(field.type)} for field in schema],
        stored_bytes=dest.stat().st_size,
    )


def _decompression_error(exc: Exception, what: str) -> DatasetRejected:
    # A full disk while the Parquet copy is written is not the file's fault: it leaves as
    # the OSError it is (a 507), never as "corrupt or truncated".
    reraise_if_disk_full(exc)
    return DatasetRejected(f"The file's compressed stream is corrupt or truncated ({what}: {exc}).")


def _is_decompression_error(exc: Exception) -> bool:
    return isinstance(exc, OSError) or any(hint in str(exc) for hint in _DECOMPRESSION_HINTS)


def _check_names(names: list[str]) -> None:
    if len(names) > MAX_COLUMNS:
        raise DatasetRejected(
            f"The file has {len(names)} columns; at most {MAX_COLUMNS} are supported."
        )
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise DatasetRejected(
                f"Column {position} has no name in the header; name every column."
            )
        if name in seen:
            raise DatasetRejected(
                f"Column '{name}' appears more than once in the header; names must be unique."
            )
        seen.add(name)


class _ParquetSink:
    """Batches in, row groups of about ``ROW_GROUP_ROWS`` out."""

    def __init__(self, path: Path, told: Callable[[], None], most_rows: int) -> None:
        self.path = path
        self.told = told
        self.most_rows = most_rows
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.rows = 0
        self.schema: pa.Schema | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        if self.schema is None:
            self.schema = batch.schema
            _check_names(batch.schema.names)
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        if self.rows > self.most_rows:
            raise too_many_rows(self.most_rows)
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self._flush()
        self.told()

    def _flush(self) -> None:
        if not self.pending:
            return
        assert self.schema is not None
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                str(self.path), self.schema, compression="snappy", memory_pool=_ingest_pool()
            )
        self.writer.write_table(
            pa.Table.from_batches(self.pending, self.schema), row_group_size=1 << 30
        )
        self.pending = []
        self.pending_rows = 0

    def close(self) -> tuple[int, pa.Schema]:
        self._flush()
        if self.schema is None:
            raise DatasetRejected("The file has no data rows.")
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                str(self.path), self.schema, compression="snappy", memory_pool=_ingest_pool()
            )
        self.writer.close()
        return self.rows, self.schema

    def abort(self) -> None:
        if self.writer is not None:
            with suppress(Exception):
                self.writer.close()


def too_many_rows(most: int) -> DatasetOverLimit:
    return DatasetOverLimit(
        f"The file holds more than {most:,} rows; a dataset may hold at most that "
        f"(MODELYARD_STORAGE__MAX_DATASET_ROWS={most})."
    )


# --- Parquet -------------------------------------------------------------------------------


def _footer_bytes(path: Path) -> int:
    """The length a Parquet file declares for its footer (its last 8 bytes: length, PAR1)."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size < 12:
            raise DatasetRejected("The file is too short to be a Parquet file.")
        handle.seek(size - 8)
        tail = handle.read(8)
    if tail[4:] != b"PAR1":
        raise DatasetRejected("The file is not a readable Parquet file: it does not end in PAR1.")
    return int.from_bytes(tail[:4], "little")


def _check_parquet(
    path: Path, limits: IngestLimits, columns_done: Callable[[int, int], None] | None = None
) -> tuple[int, pa.Schema]:
    """Decode every page, one column at a time (memory: one column chunk, not a row group)."""
    footer = _footer_bytes(path)
    if footer > limits.parquet_metadata_bytes:
        raise DatasetOverLimit(
            f"The Parquet file's metadata (footer) is {footer:,} bytes; at most "
            f"{limits.parquet_metadata_bytes:,} are read "
            f"(MODELYARD_STORAGE__MAX_PARQUET_METADATA_BYTES)."
        )
    try:
        parquet = pq.ParquetFile(str(path), pre_buffer=False)
        if parquet.metadata.num_rows > limits.rows:
            raise too_many_rows(limits.rows)
        schema = parquet.schema_arrow
        _check_names(schema.names)
        counts = []
        for name in schema.names:
            rows = 0
            for batch in parquet.iter_batches(batch_size=65_536, columns=[name], use_threads=False):
                rows += batch.num_rows
            counts.append(rows)
            if columns_done is not None:
                columns_done(len(counts), len(schema.names))
    except DatasetRejected:
        raise
    except (pa.ArrowException, OSError) as exc:
        reraise_if_disk_full(exc)
        raise DatasetRejected(f"The file is not a readable Parquet file: {exc}.") from exc
    rows = counts[0] if counts else 0
    if any(count != parquet.metadata.num_rows for count in counts):
        raise DatasetRejected(
            f"The Parquet file declares {parquet.metadata.num_rows} rows but holds {rows}."
        )
    return rows, schema


def _decompress_to(open_stream: StreamOpener, target: Path) -> None:
    try:
        with open_stream() as source, target.open("wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    except (pa.ArrowException, OSError) as exc:
        raise _decompression_error(exc, "while decompressing") from exc


# --- CSV -----------------------------------------------------------------------------------


def _wider(current: pa.DataType | None) -> pa.DataType | None:
    if current is None or pa.types.is_null(current) or pa.types.is_integer(current):
        return pa.float64()
    if pa.types.is_string(current) or pa.types.is_large_string(current):
        return None
    return pa.string()


class _Retry(Exception):
    """Restart the CSV pass with other options."""


def _quiet() -> None:
    pass


def _csv_to_parquet(
    open_stream: StreamOpener, target: Path, told: Callable[[], None] = _quiet, *, most_rows: int
) -> tuple[int, pa.Schema]:
    column_types: dict[str, pa.DataType] = {}
    newlines_in_values = False
    for _attempt in range(2 * MAX_COLUMNS):
        try:
            return _csv_pass(open_stream, target, column_types, newlines_in_values, told, most_rows)
        except _Retry as retry:
            if retry.args and retry.args[0] == "newlines":
                newlines_in_values = True
    raise DatasetRejected("The CSV's column types could not be settled.")  # pragma: no cover


def _csv_pass(
    open_stream: StreamOpener,
    target: Path,
    column_types: dict[str, pa.DataType],
    newlines_in_values: bool,
    told: Callable[[], None],
    most_rows: int,
) -> tuple[int, pa.Schema]:
    sink = _ParquetSink(target, told, most_rows)
    names: list[str] = []
    try:
        with open_stream() as stream:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=newlines_in_values),
                convert_options=pa_csv.ConvertOptions(column_types=column_types),
                memory_pool=_ingest_pool(),
            )
            names = reader.schema.names
            _check_names(names)
            for batch in reader:
                sink.add(batch)
            if sink.schema is None:
                sink.schema = reader.schema
        return sink.close()
    except pa.ArrowInvalid as exc:
        sink.abort()
        _translate_csv_error(exc, open_stream, names, column_types, newlines_in_values)
        raise  # pragma: no cover - the translation always raises
    except (pa.ArrowException, OSError) as exc:
        sink.abort()
        raise _decompression_error(exc, "while reading") from exc
    except BaseException:
        sink.abort()
        raise


def _translate_csv_error(
    exc: pa.ArrowInvalid,
    open_stream: StreamOpener,
    names: list[str],
    column_types: dict[str, pa.DataType],
    newlines_in_values: bool,
) -> None:
    message = str(exc)
    conversion = _CONVERSION.search(message)
    if conversion and names:
        index = int(conversion.group(1))
        name = names[index] if index < len(names) else f"#{index + 1}"
        wider = _wider(column_types.get(name))
        if wider is None or (name in column_types and column_types[name] == wider):
            raise DatasetRejected(
                f"Column '{name}' holds values that are not valid UTF-8 text: {message}.",
                extra={"column": name},
            ) from exc
        column_types[name] = wider
        raise _Retry("types") from exc
    if _RAGGED.search(message) or "CSV parse error" in message:
        found = _first_ragged_row(open_stream)
        if found is None and not newlines_in_values:
            raise _Retry("newlines") from exc
        if found is not None:
            line, expected, got, text = found
            raise DatasetRejected(
                f"Line {line} has {got} fields but the header has {expected}: {text!r}.",
                extra={"line": line},
            ) from exc
        raise DatasetRejected(f"The CSV could not be parsed: {message}.") from exc
    if "Empty CSV file" in message:
        raise DatasetRejected("The file is empty (no rows and no header).") from exc
    if _is_decompression_error(exc):
        raise _decompression_error(exc, "while reading") from exc
    raise DatasetRejected(f"The CSV could not be parsed: {message}.") from exc


def _text_lines(open_stream: StreamOpener) -> Iterator[str]:
    """The decompressed file as lines with their endings (what the ``csv`` module reads)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    rest = ""
    with open_stream() as stream:
        while chunk := stream.read(1 << 20):
            text = rest + decoder.decode(chunk)
            lines = text.splitlines(keepends=True)
            rest = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
            yield from lines
    rest += decoder.decode(b"", final=True)
    if rest:
        yield rest


def _first_ragged_row(open_stream: StreamOpener) -> tuple[int, int, int, str] | None:
    """The first row whose field count differs from the header's, quotes respected."""
    reader = csv.reader(_text_lines(open_stream))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return None
    expected = len(header)
    try:
        for row in reader:
            if row and len(row) != expected:
                return reader.line_num, expected, len(row), ",".join(row)[:200]
    except csv.Error as exc:
        return reader.line_num, expected, -1, str(exc)
    return None


# --- JSON Lines ----------------------------------------------------------------------------


def _jsonl_to_parquet(
    open_stream: StreamOpener, target: Path, told: Callable[[], None] = _quiet, *, most_rows: int
) -> tuple[int, pa.Schema]:
    block = BLOCK_BYTES
    schema: pa.Schema | None = None
    for _attempt in range(3):
        try:
            return _jsonl_pass(open_stream, target, schema, block, told, most_rows)
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "straddl" in message and block < LONG_LINE_BLOCK_BYTES:
                block = LONG_LINE_BLOCK_BYTES
                continue
            if schema is None and (
                "unexpected field" in message or "Failed to convert JSON" in message
            ):
                schema = _jsonl_schema(open_stream)
                continue
            raise _json_rejection(open_stream, exc) from exc
    raise DatasetRejected("The JSON Lines file could not be read.")  # pragma: no cover


def _jsonl_pass(
    open_stream: StreamOpener,
    target: Path,
    schema: pa.Schema | None,
    block: int,
    told: Callable[[], None],
    most_rows: int,
) -> tuple[int, pa.Schema]:
    sink = _ParquetSink(target, told, most_rows)
    parse = (
        pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        if schema is not None
        else pa_json.ParseOptions()
    )
    try:
        with open_stream() as stream:
            reader = pa_json.open_json(
                stream,
                read_options=pa_json.ReadOptions(use_threads=False, block_size=block),
                parse_options=parse,
                memory_pool=_ingest_pool(),
            )
            for batch in reader:
                sink.add(batch)
        return sink.close()
    except pa.ArrowInvalid:
        sink.abort()
        raise
    except (pa.ArrowException, OSError) as exc:
        sink.abort()
        raise _decompression_error(exc, "while reading") from exc
    except BaseException:
        sink.abort()
        raise


def _newline_blocks(open_stream: StreamOpener) -> Iterator[bytes]:
    rest = b""
    with open_stream() as stream:
        while chunk := stream.read(BLOCK_BYTES):
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1 :]
            yield data[: cut + 1]
    if rest.strip():
        yield rest


def _jsonl_schema(open_stream: StreamOpener) -> pa.Schema:
    """Unify the schemas of every block: all fields, int+float -> float64, null -> any."""
    types: dict[str, list[pa.DataType]] = {}
    try:
        for block in _newline_blocks(open_stream):
            options = pa_json.ReadOptions(
                use_threads=False, block_size=max(len(block), BLOCK_BYTES)
            )
            for field in pa_json.read_json(pa.BufferReader(block), read_options=options).schema:
                types.setdefault(field.name, []).append(field.type)
    except pa.ArrowInvalid as exc:
        raise _json_rejection(open_stream, exc) from exc
    fields = []
    for name, seen in types.items():
        concrete = [t for t in seen if not pa.types.is_null(t)]
        if not concrete:
            fields.append(pa.field(name, pa.null()))
        elif all(t == concrete[0] for t in concrete):
            fields.append(pa.field(name, concrete[0]))
        elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in concrete):
            fields.append(pa.field(name, pa.float64()))
        else:
            raise _json_rejection(open_stream, None)
    return pa.schema(fields)


def _json_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json_rejection(open_stream: StreamOpener, exc: Exception | None) -> DatasetRejected:
    """Find the first line that is not a JSON object or changes a column's type."""
    kinds: dict[str, str] = {}
    line_number = 0
    rest = b""
    try:
        with open_stream() as stream:
            while True:
                chunk = stream.read(1 << 20)
                data = rest + chunk
                lines = data.split(b"\n")
                rest = lines.pop() if chunk else b""
                for raw in lines:
                    line_number += 1
                    if not raw.strip():
                        continue
                    problem = _json_line_problem(raw, kinds)
                    if problem is not None:
                        column, text = problem
                        extra: dict[str, Any] = {"line": line_number}
                        if column is not None:
                            extra["column"] = column
                        return DatasetRejected(f"Line {line_number} {text}.", extra=extra)
                if not chunk:
                    break
    except (pa.ArrowException, OSError) as read_error:
        return _decompression_error(read_error, "while reading")
    detail = f": {exc}" if exc is not None else ""
    return DatasetRejected(f"The JSON Lines file could not be read{detail}.")


def _json_line_problem(raw: bytes, kinds: dict[str, str]) -> tuple[str | None, str] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"is not valid JSON ({exc.msg})"
    if not isinstance(value, dict):
        return None, f"is {_json_kind(value) or 'null'}, not a JSON object; put one object per line"
    for key, item in value.items():
        kind = _json_kind(item)
        if kind is None:
            continue
        previous = kinds.setdefault(key, kind)
        if previous != kind:
            return key, f"has {kind} in column '{key}', which earlier lines hold as {previous}"
    return None

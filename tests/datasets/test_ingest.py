"""Checking and converting dataset files: each accepted format round-trips, each bad file
is refused with the line or column at fault, and nothing is left behind."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from modelyard.config import Settings
from modelyard.datasets import ingest as ingest_module
from modelyard.datasets.formats import DatasetRejected, IngestLimits, merge_claims
from modelyard.datasets.ingest import ingest

CSV = b"a,b,label,y\n1,2.5,x,3.0\n4,5.0,y,6.5\n7,8.25,x,9.0\n"
EXPECTED = {"a": [1, 4, 7], "b": [2.5, 5.0, 8.25], "label": ["x", "y", "x"], "y": [3.0, 6.5, 9.0]}


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _jsonl() -> bytes:
    return (
        b'{"a": 1, "b": 2.5, "label": "x", "y": 3.0}\n'
        b'{"a": 4, "b": 5.0, "label": "y", "y": 6.5}\n'
        b"\n"
        b'{"a": 7, "b": 8.25, "label": "x", "y": 9.0}\n'
    )


def run(
    tmp_path: Path,
    filename: str,
    data: bytes,
    *,
    fmt: str | None = None,
    compression: str | None = None,
):
    raw = tmp_path / "upload.bin"
    raw.write_bytes(data)
    dest = tmp_path / "out.parquet"
    result = ingest(
        raw,
        dest,
        filename=filename,
        claims=merge_claims(filename, fmt, compression),
        limits=IngestLimits.of(Settings()),
    )
    return result, pq.read_table(dest)


FORMATS = {
    "data.csv": (CSV, "csv", "none"),
    "data.csv.gz": (gzip.compress(CSV), "csv", "gzip"),
    "data.csv.zst": (zstandard.ZstdCompressor().compress(CSV), "csv", "zstd"),
    "data.jsonl": (_jsonl(), "jsonl", "none"),
    "data.ndjson.gz": (gzip.compress(_jsonl()), "jsonl", "gzip"),
    "data.jsonl.zst": (zstandard.ZstdCompressor().compress(_jsonl()), "jsonl", "zstd"),
    "data.parquet": (_parquet_bytes(pa.table(EXPECTED)), "parquet", "none"),
    "data.parquet.gz": (gzip.compress(_parquet_bytes(pa.table(EXPECTED))), "parquet", "gzip"),
    "no-suffix": (gzip.compress(CSV), "csv", "gzip"),
}


@pytest.mark.parametrize("filename", list(FORMATS))
def test_every_format_round_trips_to_parquet(tmp_path: Path, filename: str) -> None:
    data, fmt, compression = FORMATS[filename]
    result, table = run(tmp_path, filename, data)
    assert (result.format, result.compression, result.row_count) == (fmt, compression, 3)
    assert table.to_pydict() == EXPECTED
    assert [c["name"] for c in result.columns] == ["a", "b", "label", "y"]
    types = {c["name"]: c["type"] for c in result.columns}
    assert types == {"a": "int64", "b": "double", "label": "string", "y": "double"}
    assert result.stored_bytes == (tmp_path / "out.parquet").stat().st_size


def test_quoted_values_may_span_lines(tmp_path: Path) -> None:
    result, table = run(tmp_path, "q.csv", b'a,note\n1,"two\nlines"\n2,plain\n')
    assert result.row_count == 2
    assert table.column("note").to_pylist() == ["two\nlines", "plain"]


def test_a_column_whose_type_changes_after_the_first_block_is_widened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 1024)
    body = b"".join(b"%d,%d,\n" % (i, i) for i in range(2000))
    data = b"n,m,late\n" + body + b"1.5,x,7\n"
    result, table = run(tmp_path, "wide.csv", data)
    types = {c["name"]: c["type"] for c in result.columns}
    assert types == {"n": "double", "m": "string", "late": "double"}
    assert result.row_count == 2001
    assert table.column("n").to_pylist()[-1] == 1.5
    assert table.column("late").to_pylist()[-1] == 7.0


def test_json_lines_with_a_field_first_seen_late_are_unified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 1024)
    data = b"".join(b'{"a": %d}\n' % i for i in range(500)) + b'{"a": 0.5, "extra": "e"}\n'
    result, table = run(tmp_path, "late.jsonl", data)
    assert {c["name"]: c["type"] for c in result.columns} == {"a": "double", "extra": "string"}
    assert table.column("extra").to_pylist()[-2:] == [None, "e"]


def _rejected(tmp_path: Path, filename: str, data: bytes, **claims: str) -> DatasetRejected:
    with pytest.raises(DatasetRejected) as caught:
        run(tmp_path, filename, data, **claims)
    assert not (tmp_path / "out.parquet").exists()
    assert not list(tmp_path.glob("*.partial"))
    return caught.value


def test_a_ragged_csv_names_its_line(tmp_path: Path) -> None:
    error = _rejected(tmp_path, "r.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    assert error.extra["line"] == 4
    assert "Line 4 has 2 fields but the header has 3" in error.detail


def test_ragged_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    error = _rejected(tmp_path, "r.csv", b'a,b\n1,"x\ny"\n2,z\n3\n')
    assert error.extra["line"] == 5


def test_a_ragged_line_deep_in_a_compressed_file_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 4096)
    data = b"a,b\n" + b"1,2\n" * 5000 + b"1,2,3\n"
    error = _rejected(tmp_path, "r.csv.gz", gzip.compress(data))
    assert error.extra["line"] == 5002


@pytest.mark.parametrize(
    ("filename", "data", "claims", "expected"),
    [
        ("empty.csv", b"", {}, "empty"),
        ("blank.csv", b"\n\n  \n", {}, "empty"),
        ("header.csv", b"a,b\n", {}, "no data rows"),
        ("dup.csv", b"a,a\n1,2\n", {}, "Column 'a' appears more than once"),
        ("noname.csv", b"a,,c\n1,2,3\n", {}, "Column 2 has no name"),
        (
            "d.csv.gz",
            zstandard.ZstdCompressor().compress(CSV),
            {},
            "says gzip compression, but the file is zstd-compressed",
        ),
        (
            "d.csv.zst",
            gzip.compress(CSV),
            {},
            "says zstd compression, but the file is gzip-compressed",
        ),
        ("d.csv.gz", CSV, {}, "says gzip compression, but the file is not compressed"),
        ("d.csv", gzip.compress(CSV), {}, "says none compression, but the file is gzip-compressed"),
        ("d.bin", CSV, {"compression": "zstd"}, "fields says zstd compression"),
        ("d.parquet", CSV, {}, "says parquet, but the content is CSV text"),
        ("d.csv", _parquet_bytes(pa.table(EXPECTED)), {}, "says csv, but the content is Parquet"),
        ("d.jsonl", CSV, {}, "says jsonl, but the content is CSV text"),
        ("d.json", b'[{"a": 1}]', {}, "one JSON array"),
        ("d.csv", b"PK\x03\x04rest-of-a-zip", {}, "a zip archive"),
        ("d.csv", b"\x00\x01\x02\x03binary", {}, "binary data"),
        ("d.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", {}, "not a readable Parquet file"),
    ],
)
def test_bad_files_are_refused_with_the_reason(
    tmp_path: Path, filename: str, data: bytes, claims: dict[str, str], expected: str
) -> None:
    fmt = claims.get("format")
    compression = claims.get("compression")
    error = _rejected(
        tmp_path,
        filename,
        data,
        **({"fmt": fmt} if fmt else {}),
        **({"compression": compression} if compression else {}),
    )
    assert expected in error.detail


def test_a_truncated_gzip_stream_is_refused(tmp_path: Path) -> None:
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 7919 % 100_003) for i in range(50_000))
    compressed = gzip.compress(data)
    error = _rejected(tmp_path, "t.csv.gz", compressed[: len(compressed) // 2])
    assert "corrupt or truncated" in error.detail


@pytest.mark.parametrize(
    ("data", "line", "column", "expected"),
    [
        (b'{"a": 1}\n{"a": 2\n', 2, None, "Line 2 is not valid JSON"),
        (b'{"a": 1}\n\n[1, 2]\n', 3, None, "Line 3 is an array, not a JSON object"),
        (b'{"a": 1}\n{"a": "x"}\n', 2, "a", "Line 2 has a string in column 'a'"),
    ],
)
def test_bad_json_lines_name_the_line(
    tmp_path: Path, data: bytes, line: int, column: str | None, expected: str
) -> None:
    error = _rejected(tmp_path, "d.jsonl", data)
    assert error.extra["line"] == line
    assert error.extra.get("column") == column
    assert expected in error.detail


@pytest.mark.parametrize("filename", ["model.pkl", "model.joblib", "data.csv"])
def test_pickles_are_refused_as_datasets(tmp_path: Path, filename: str) -> None:
    pickled = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94."
    error = _rejected(tmp_path, filename, pickled)
    assert "Pickle and joblib files are refused" in error.detail
    error = _rejected(tmp_path, filename + ".gz", gzip.compress(pickled))
    assert "Pickle" in error.detail


def test_json_lines_longer_than_a_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 1024)
    data = b'{"a": 1, "note": "short"}\n' + b'{"a": 2, "note": "' + b"x" * 5000 + b'"}\n'
    result, table = run(tmp_path, "long.jsonl", data)
    assert result.row_count == 2
    assert len(table.column("note").to_pylist()[1]) == 5000


@pytest.mark.parametrize("filename", ["big.csv", "big.csv.gz", "big.jsonl", "big.parquet"])
def test_the_conversion_reports_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filename: str
) -> None:
    """The page's conversion bar: bytes of the uploaded file read, rising, up to its size."""
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 4096)
    rows = 20_000
    table = pa.table({"a": list(range(rows)), "b": [i * 0.5 for i in range(rows)]})
    if filename.startswith("big.csv"):
        data = b"a,b\n" + b"".join(b"%d,%s\n" % (i, repr(i * 0.5).encode()) for i in range(rows))
        data = gzip.compress(data) if filename.endswith(".gz") else data
    elif filename == "big.jsonl":
        data = b"".join(b'{"a": %d, "b": %s}\n' % (i, repr(i * 0.5).encode()) for i in range(rows))
    else:
        data = _parquet_bytes(table)
    raw = tmp_path / "upload.bin"
    raw.write_bytes(data)
    seen: list[tuple[int, int]] = []
    result = ingest(
        raw,
        tmp_path / "out.parquet",
        filename=filename,
        claims=merge_claims(filename, None, None),
        limits=IngestLimits.of(Settings()),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.row_count == rows
    assert len(seen) >= 2, seen
    assert {total for _, total in seen} == {len(data)}
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[0] > 0 and done[-1] <= len(data)
    assert done[-1] >= len(data) // 2


def test_limits_stop_the_pass_with_a_413_naming_the_setting(tmp_path: Path) -> None:
    from modelyard.datasets.formats import DatasetOverLimit

    rows = IngestLimits(
        decompressed_bytes=1 << 40, inflation=100.0, rows=1000, parquet_metadata_bytes=1 << 20
    )
    inflation = IngestLimits(
        decompressed_bytes=1 << 40, inflation=100.0, rows=1 << 40, parquet_metadata_bytes=1 << 20
    )
    cases = [
        ("rows.csv", b"x\n" + b"1\n" * 1001, rows, "MAX_DATASET_ROWS"),
        ("rows.jsonl", b'{"x": 1}\n' * 1001, rows, "MAX_DATASET_ROWS"),
        (
            "rows.parquet",
            _parquet_bytes(pa.table({"x": list(range(1001))})),
            rows,
            "MAX_DATASET_ROWS",
        ),
        # 80 MiB of rows: past the 64 MiB any compressed file may inflate to.
        ("bomb.csv.gz", gzip.compress(b"x\n" + b"0\n" * (40 << 20), 1), inflation, "INFLATION"),
    ]
    for filename, data, limits, setting in cases:
        raw = tmp_path / filename
        raw.write_bytes(data)
        claims = merge_claims(filename, None, None)
        with pytest.raises(DatasetOverLimit, match=setting) as refused:
            ingest(raw, tmp_path / "out.parquet", filename=filename, claims=claims, limits=limits)
        assert refused.value.status_code == 413
        assert not (tmp_path / "out.parquet").exists()
        assert not (tmp_path / "out.parquet.partial").exists()
    exact = tmp_path / "exact.csv"
    exact.write_bytes(b"x\n" + b"1\n" * 1000)
    claims = merge_claims("exact.csv", None, None)
    result = ingest(
        exact, tmp_path / "out.parquet", filename="exact.csv", claims=claims, limits=rows
    )
    assert result.row_count == 1000

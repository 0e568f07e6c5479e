"""Small uploads that would take a lot of memory once read are refused early, as problems.

A real ``modelyard serve`` receives a gzip CSV of about 300 KB that inflates to 134,217,728
rows (256 MiB), a Parquet file with 64 MiB of footer metadata, a skops zip whose
``schema.json`` inflates to 300 MB and a zip of 20,000 files; each answers a 413 problem
naming the setting, and the server's resident memory (read from /proc) grows by less than
20 MB across all of them. The row limit is lowered for the server (it is a setting) to show
a Parquet file over it refused too.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.flavors.builders import linear_regression, skops_bytes
from tests.reliability.test_body_limits import MB, rss_bytes
from tests.served import Served, serving

pytestmark = pytest.mark.slow

ROWS_LIMIT = 40_000_000  # above the 33.5M rows of the bomb's first 64 MiB


def gzip_csv_bomb(path: Path, rows: int = 1 << 27) -> Path:
    """A one-column CSV of ``rows`` ones, gzip-compressed (about 1,000x)."""
    piece = b"1\n" * (1 << 19)
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(b"x\n")
        for _ in range(rows // (1 << 19)):
            out.write(piece)
    return path


def parquet_metadata_bomb(path: Path, metadata_bytes: int = 64 * MB) -> Path:
    table = pa.table({"x": [1, 2, 3]})
    with pq.ParquetWriter(path, table.schema, store_schema=False) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({"pad": "a" * metadata_bytes})
    return path


def skops_schema_bomb(path: Path, schema_bytes: int = 300 * 1000 * 1000) -> Path:
    """A zip named like a skops file whose ``schema.json`` inflates to ``schema_bytes``."""
    blank = b" " * (1 << 20)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("schema.json", "w", force_zip64=True) as member,
    ):
        member.write(b'{"__class__": "LinearRegression"')
        for _ in range(schema_bytes // len(blank)):
            member.write(blank)
        member.write(b"}")
    return path


def many_members(path: Path, count: int = 20_000) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(count):
            archive.writestr(f"{index}.npy", b"")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("bombs")
    with serving(
        home, MODELYARD_STORAGE__MAX_DATASET_ROWS=str(ROWS_LIMIT), MODELYARD_JOBS__WORKERS="0"
    ) as server:
        yield server


def _dataset(server: Served, path: Path) -> httpx.Response:
    with path.open("rb") as handle:
        return httpx.post(
            server.base + "/api/datasets",
            files={"file": (path.name, handle)},
            headers=server.headers,
            timeout=300,
        )


def _version(server: Served, model: str, path: Path) -> httpx.Response:
    metadata = {"flavor": "sklearn", "parameters": {"features": ["a", "b"]}}
    with path.open("rb") as handle:
        return httpx.post(
            f"{server.base}/api/models/{model}/versions",
            files={"file": (path.name, handle)},
            data={"metadata": json.dumps(metadata)},
            headers=server.headers,
            timeout=300,
        )


def _refused(response: httpx.Response, setting: str) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert setting in response.json()["detail"], response.json()


def test_upload_bombs_are_refused_in_bounded_memory(served: Served, tmp_path: Path) -> None:
    model = f"bombs-{uuid.uuid4().hex[:8]}"
    assert (
        httpx.post(
            served.base + "/api/models", json={"name": model}, headers=served.headers
        ).status_code
        == 201
    )
    # Warm every path (pyarrow, scikit-learn and skops imported, first conversions done).
    small = tmp_path / "small.csv.gz"
    small.write_bytes(
        gzip.compress(b"a,y\n" + b"".join(b"%d,%d\n" % (i, 2 * i) for i in range(5000)))
    )
    assert _dataset(served, small).status_code == 201
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(1000))}), sink)
    (tmp_path / "small.parquet").write_bytes(sink.getvalue())
    assert _dataset(served, tmp_path / "small.parquet").status_code == 201
    (tmp_path / "model.skops").write_bytes(skops_bytes(linear_regression()))
    warm = _version(served, model, tmp_path / "model.skops")
    assert warm.status_code == 201, warm.text

    csv_bomb = gzip_csv_bomb(tmp_path / "rows.csv.gz")
    assert csv_bomb.stat().st_size < 1 * MB
    parquet_bomb = parquet_metadata_bomb(tmp_path / "footer.parquet")
    schema_bomb = skops_schema_bomb(tmp_path / "schema.skops")
    assert schema_bomb.stat().st_size < 1 * MB
    members = many_members(tmp_path / "members.skops")
    many_rows = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": pa.nulls(ROWS_LIMIT + 1, pa.int8())}), many_rows)
    assert many_rows.stat().st_size < 1 * MB

    before = rss_bytes(served.proc.pid)
    _refused(_dataset(served, csv_bomb), "MODELYARD_STORAGE__MAX_DATASET_INFLATION")
    _refused(_dataset(served, parquet_bomb), "MODELYARD_STORAGE__MAX_PARQUET_METADATA_BYTES")
    _refused(_dataset(served, many_rows), "MODELYARD_STORAGE__MAX_DATASET_ROWS")
    _refused(_version(served, model, schema_bomb), "MODELYARD_STORAGE__MAX_ARTIFACT_METADATA_BYTES")
    _refused(_version(served, model, members), "MODELYARD_STORAGE__MAX_ARTIFACT_MEMBERS")
    growth = rss_bytes(served.proc.pid) - before
    print(f"server RSS {before / MB:.0f} MB, growth {growth / MB:.1f} MB across the bombs")
    assert growth < 20 * MB, f"RSS grew by {growth / MB:.1f} MB"

    # Nothing was kept: the two warm-up datasets and the one version only.
    datasets = httpx.get(served.base + "/api/datasets", headers=served.headers).json()
    assert len(datasets["items"]) == 2
    versions = httpx.get(
        f"{served.base}/api/models/{model}/versions", headers=served.headers
    ).json()
    assert len(versions["items"]) == 1
    leftovers = [p for p in (served.home / "tmp").glob("*") if p.is_file()]
    assert leftovers == []

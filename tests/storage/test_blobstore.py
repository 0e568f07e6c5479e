"""The blob store's contract, on both backends: the local directory and an S3 object store
(moto's server in its own process). Whole-or-nothing writes, reads by ranges, listing,
deletion, and the errors a caller sees when the store refuses or is away."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from modelyard.config import Settings
from modelyard.storage import (
    BlobMissing,
    BlobStore,
    LocalBlobStore,
    ParquetBlob,
    StoreUnavailable,
    open_store,
)
from tests.conftest import s3_storage
from tests.s3server import S3Server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "home", scratch=tmp_path / "home" / "tmp")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    settings = Settings(home=tmp_path / "home", storage=s3_storage(server, server.create_bucket()))
    yield open_store(settings)


def scratch_files(store: BlobStore) -> list[str]:
    scratch: Path = store.scratch  # type: ignore[attr-defined]
    return sorted(p.name for p in scratch.iterdir()) if scratch.is_dir() else []


def test_a_blob_round_trips_and_lists(store: BlobStore) -> None:
    store.put_bytes("reports/1/report.json", b'{"a": 1}')
    store.put_bytes("reports/1/report.html", b"<p>hi</p>")
    store.put_bytes("reports/2/report.json", b"{}")
    assert store.read_bytes("reports/1/report.json") == b'{"a": 1}'
    info = store.stat("reports/1/report.html")
    assert info is not None and info.size == 9 and info.mtime > 0
    assert [b.key for b in store.list("reports/1")] == [
        "reports/1/report.html",
        "reports/1/report.json",
    ]
    assert b"".join(store.iter_bytes("reports/1/report.html", 4)) == b"<p>hi</p>"
    assert store.delete_prefix("reports/1") == 2
    assert [b.key for b in store.list("reports")] == ["reports/2/report.json"]
    store.delete("reports/2/report.json")
    store.delete("reports/2/report.json")  # deleting what is gone is no error
    assert store.stat("reports/2/report.json") is None


def test_missing_blobs_raise_blob_missing(store: BlobStore) -> None:
    with pytest.raises(BlobMissing):
        store.open("datasets/files/nope.parquet")
    with pytest.raises(BlobMissing):
        ParquetBlob(store, "datasets/files/nope.parquet").open()
    assert list(store.list("nothing/here")) == []


@pytest.mark.parametrize("key", ["../escape", "a/../../b", ".hidden", "a//b", "/abs", "a/b/", ""])
def test_keys_cannot_leave_the_store(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        store.put_bytes(key, b"x")


def test_a_writer_that_fails_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.writer("artifacts/half") as out:
        out.write(b"the first half")
        raise RuntimeError("the producer failed")
    assert store.stat("artifacts/half") is None
    assert scratch_files(store) == []


def test_a_large_file_goes_in_parts_and_comes_back_whole(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    data = os.urandom(3 << 20) * 4  # 12 MiB: several multipart parts on S3
    source.write_bytes(data)
    store.put_file("datasets/files/big", source)
    assert source.exists()  # copied, not moved, without move=True
    back = tmp_path / "back.bin"
    store.get_file("datasets/files/big", back)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    with store.open("datasets/files/big") as handle:
        handle.seek(5 << 20)
        assert handle.read(16) == data[5 << 20 : (5 << 20) + 16]


def test_parquet_is_read_by_ranges_in_batches(store: BlobStore) -> None:
    table = pa.table({"x": list(range(50_000)), "y": [float(i) / 3 for i in range(50_000)]})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=10_000)
    store.put_bytes("datasets/files/t.parquet", sink.getvalue())
    blob = ParquetBlob(store, "datasets/files/t.parquet")
    parquet = blob.open()
    assert parquet.metadata.num_rows == 50_000 and parquet.metadata.num_row_groups == 5
    batches = list(blob.batches(parquet, batch_size=7_000, columns=["y"]))
    assert sum(b.num_rows for b in batches) == 50_000
    assert pa.Table.from_batches(batches).column("y") == table.column("y")


def test_the_local_store_is_the_home_directory(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    store = open_store(settings)
    assert isinstance(store, LocalBlobStore) and store.url == f"file://{tmp_path.resolve()}"
    store.put_bytes("artifacts/sha256/ab/ab12", b"bytes")
    assert (tmp_path / "artifacts" / "sha256" / "ab" / "ab12").read_bytes() == b"bytes"


# --- an object store that refuses or is away -------------------------------------------------


def test_wrong_credentials_are_a_clear_configuration_error(
    s3_server: S3Server, tmp_path: Path
) -> None:
    storage = s3_storage(s3_server, s3_server.create_bucket())
    storage.secret_access_key = SecretStr("not-the-secret")
    store = open_store(Settings(home=tmp_path, storage=storage))
    with pytest.raises(StoreUnavailable) as refused:
        store.check()
    assert refused.value.misconfigured and refused.value.status_code == 503
    assert "refused the server's credentials" in refused.value.detail
    assert "MODELYARD_STORAGE__ACCESS_KEY_ID" in refused.value.detail


def test_a_missing_bucket_is_a_configuration_error(s3_server: S3Server, tmp_path: Path) -> None:
    store = open_store(Settings(home=tmp_path, storage=s3_storage(s3_server, "no-such-bucket")))
    with pytest.raises(StoreUnavailable, match="does not exist") as missing:
        store.check()
    assert missing.value.misconfigured


def test_an_unreachable_store_is_unavailable_not_misconfigured(
    s3_server: S3Server, tmp_path: Path
) -> None:
    storage = s3_storage(s3_server, "any")
    storage.endpoint_url = f"http://127.0.0.1:{_closed_port()}"
    storage.attempts = 1
    store = open_store(Settings(home=tmp_path, storage=storage))
    with pytest.raises(StoreUnavailable, match="is unavailable") as away:
        store.check()
    assert not away.value.misconfigured
    with pytest.raises(StoreUnavailable):
        store.put_bytes("reports/1/report.json", b"{}")
    assert scratch_files(store) == []


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

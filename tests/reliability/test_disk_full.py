"""A full disk is a 507 problem that names it, and leaves nothing behind.

The server's home (its blob store and scratch space) is a small tmpfs made by the test (root
only; skipped with the reason otherwise), its database elsewhere. Each upload path (raw, multipart, a resumable chunk, an
artifact) and the Parquet conversion run out of space: the answer is a 507 naming the mount,
the partial file is gone at once (the free space is what it was before), and a smaller
upload works right after.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelyard.app import create_app
from modelyard.auth.schemas import Role
from modelyard.kit import migrate
from modelyard.kit.errors import PROBLEM_MEDIA_TYPE
from tests.conftest import make_settings
from tests.served import make_token

MB = 1 << 20
MOUNT_MB = 6


def _free(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A home on a tmpfs of MOUNT_MB MiB (the database lives elsewhere)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (and mount); a full disk is not simulated")
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={MOUNT_MB}m", "tmpfs", str(home)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)


def _assert_507(response, mount: Path) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 507, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["disk"] == str(mount), body
    assert str(mount) in body["detail"] and "full" in body["detail"]


def _random_csv(rows: int) -> bytes:
    generator = random.Random(12)
    lines = ["a,b,c,d"]
    lines += [",".join(f"{generator.random():.15f}" for _ in range(4)) for _ in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _data_files(home: Path) -> list[Path]:
    """What uploads leave: blobs, scratch and cache files (not the queue or telemetry)."""
    return sorted(
        p
        for top in ("tmp", "datasets", "artifacts", "cache")
        for p in (home / top).rglob("*")
        if p.is_file()
    )


def _assert_space_back(home: Path, free: int) -> None:
    # Within 512 KiB: the job queue and telemetry write a little to the same home meanwhile.
    assert _free(home) >= free - (512 << 10), (_free(home), free)


def test_every_write_path_answers_507_and_keeps_nothing(small_disk: Path, tmp_path: Path) -> None:
    home = small_disk
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    headers = {"Authorization": f"Bearer {make_token(url, 'writer', Role.editor)}"}
    octets = {**headers, "Content-Type": "application/octet-stream"}
    settings = make_settings(home, url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/api/datasets", headers=headers).status_code == 200
        free = _free(home)
        too_big = b"a,b\n" + b"1,2\n" * ((MOUNT_MB + 1) * MB // 4)

        # 1. a raw upload
        r = client.post("/api/datasets?name=raw&filename=big.csv", content=too_big, headers=octets)
        _assert_507(r, home)
        assert _data_files(home) == []
        _assert_space_back(home, free)

        # 2. a multipart form
        r = client.post(
            "/api/datasets",
            files={"file": ("big.csv", too_big, "text/csv")},
            data={"name": "form"},
            headers=headers,
        )
        _assert_507(r, home)
        assert _data_files(home) == []
        _assert_space_back(home, free)

        # 3. a resumable upload: the chunk that does not fit goes, the one before stays
        created = client.post(
            "/api/datasets/uploads",
            json={"filename": "big.csv", "size": len(too_big), "name": "chunks"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        upload = created.json()["id"]
        r = client.put(
            f"/api/datasets/uploads/{upload}?offset=0", content=too_big[:MB], headers=octets
        )
        assert r.status_code == 200, r.text
        kept = _data_files(home)
        assert len(kept) == 1 and kept[0].stat().st_size == MB
        r = client.put(
            f"/api/datasets/uploads/{upload}?offset={MB}", content=too_big[MB:], headers=octets
        )
        _assert_507(r, home)
        assert _data_files(home) == kept
        assert (
            client.get(f"/api/datasets/uploads/{upload}", headers=headers).json()["received"] == MB
        )
        assert client.delete(f"/api/datasets/uploads/{upload}", headers=headers).status_code == 204
        assert _data_files(home) == []
        _assert_space_back(home, free)

        # 4. the Parquet conversion: the upload fits, its Parquet copy does not
        csv = _random_csv(60_000)
        packed = gzip.compress(csv, 6)
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(pa_csv.read_csv(io.BytesIO(csv)), sink, compression="snappy")
        parquet_size = len(sink.getvalue())
        filler = home / "filler"
        room = len(packed) + parquet_size // 2
        filler.write_bytes(b"\0" * max(_free(home) - room, 0))
        before = _free(home)
        r = client.post(
            "/api/datasets?name=inflates&filename=random.csv.gz", content=packed, headers=octets
        )
        _assert_507(r, home)
        assert _data_files(home) == []
        _assert_space_back(home, before)
        filler.unlink()

        # 5. an artifact
        r = client.post("/api/models", json={"name": "heavy"}, headers=headers)
        assert r.status_code == 201
        r = client.post(
            "/api/models/heavy/versions",
            files={
                "file": ("model.onnx", os.urandom((MOUNT_MB + 1) * MB), "application/octet-stream"),
                "metadata": (None, '{"flavor": "onnx"}', "application/json"),
            },
            headers=headers,
        )
        _assert_507(r, home)
        assert _data_files(home) == []
        _assert_space_back(home, free)

        # Nothing was lost and the next upload that fits works.
        small = b"a,b\n" + b"1,2\n" * 1000
        r = client.post("/api/datasets?name=fits&filename=small.csv", content=small, headers=octets)
        assert r.status_code == 201, r.text
        names = [d["name"] for d in client.get("/api/datasets", headers=headers).json()["items"]]
        assert names == ["fits"]

"""An object store that is away: the server still starts, uploads answer a 503 problem that
names the store and register nothing, an evaluation is retried and then fails with that
reason (never "upload it again"), and readiness names the store."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from modelyard.app import create_app
from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.config import Settings, StorageSettings
from modelyard.datasets import service as datasets_service
from modelyard.datasets.formats import Claims
from modelyard.datasets.store import DatasetStore
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.storage import LocalBlobStore
from tests.conftest import make_settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def away(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], int]]:
    """An app whose object store does not answer, with one dataset registered while it did."""
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    settings: Settings = make_settings(
        tmp_path / "home",
        url,
        storage=StorageSettings(
            url="s3://modelyard/away",
            endpoint_url=f"http://127.0.0.1:{_closed_port()}",
            access_key_id="key",
            secret_access_key=SecretStr("secret"),
            attempts=1,
            connect_timeout_seconds=1.0,
        ),
    )
    settings.jobs.workers = 1
    settings.jobs.retry_backoff_seconds = 0.05
    settings.live.enabled = False
    db = Database(url)
    try:
        with db.session() as session:
            user = auth_service.create_user(
                session, UserCreate(name="editor", role=Role.editor), actor="test"
            )
            token = auth_service.create_token(
                session, user, lifetime=dt.timedelta(hours=1), actor="test"
            ).token
        # Registered while the store answered (here: a directory standing in for it).
        elsewhere = DatasetStore.of(LocalBlobStore(tmp_path / "elsewhere"), settings)
        raw = elsewhere.temp_path()
        raw.write_bytes(b"a,y\n1,2\n2,4\n3,6\n")
        dataset = datasets_service.register_file(
            db,
            elsewhere,
            raw,
            sha256="0" * 64,
            size=raw.stat().st_size,
            filename="kept.csv",
            name="kept",
            description="",
            claims=Claims(format="csv", compression="none", source="test"),
            actor="editor",
        )
    finally:
        db.dispose()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}, dataset.id


def test_an_upload_is_a_503_that_names_the_store_and_registers_nothing(
    away: tuple[TestClient, dict[str, str], int],
) -> None:
    client, headers, kept = away
    r = client.post("/api/datasets", headers=headers, files={"file": ("new.csv", b"a,y\n1,2\n")})
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "object store s3://modelyard/away" in r.json()["detail"]
    assert "unavailable" in r.json()["detail"] and r.headers.get("retry-after")
    listed = client.get("/api/datasets", headers=headers).json()["items"]
    assert [d["id"] for d in listed] == [kept]

    assert client.post("/api/models", headers=headers, json={"name": "m"}).status_code == 201
    artifact = client.post(
        "/api/models/m/versions",
        headers=headers,
        files={"file": ("w.bin", b"weights")},
        data={"metadata": '{"flavor": "generic"}'},
    )
    assert artifact.status_code == 503, artifact.text
    assert client.get("/api/models/m/versions", headers=headers).json()["items"] == []


def test_an_evaluation_is_retried_then_fails_with_the_reason(
    away: tuple[TestClient, dict[str, str], int],
) -> None:
    client, headers, kept = away
    client.post("/api/models", headers=headers, json={"name": "lin"})
    version = client.post(
        "/api/models/lin/versions",
        headers=headers,
        json={"flavor": "formula", "parameters": {"kind": "linear", "coef": {"a": 2.0}}},
    )
    assert version.status_code == 201, version.text
    created = client.post(
        "/api/evaluations", headers=headers, json={"model": "lin", "dataset": kept, "target": "y"}
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job"]["id"]
    deadline = time.monotonic() + 120
    while (job := client.get(f"/api/jobs/{job_id}", headers=headers).json())["status"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "failed" and job["attempts"] == 3, job
    assert "object store s3://modelyard/away" in job["error"] and "gave up after 3" in job["error"]
    evaluation = client.get(f"/api/evaluations/{created.json()['id']}", headers=headers).json()
    assert evaluation["status"] == "failed"
    assert "unavailable" in evaluation["error"] and "upload it again" not in evaluation["error"]


def test_readiness_names_the_store(away: tuple[TestClient, dict[str, str], int]) -> None:
    client, _, _ = away
    r = client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok"
    assert "object store" in r.json()["checks"]["store"]
    assert client.get("/health/live").status_code == 200

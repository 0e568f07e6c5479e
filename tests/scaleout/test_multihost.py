"""Scale-out, proved with real processes: one ``modelyard serve`` and two ``modelyard worker``
processes, each with a MODELYARD_HOME of its own (no directory shared between them), that
share only PostgreSQL, Redis and the blob store by URL, driven through the API.

The journey: a dataset uploaded to the server in resumable chunks and a scikit-learn artifact
uploaded with its version (and downloaded back through the server); an evaluation of that
version running on a worker (which fetches the artifact and reads the Parquet from the store)
is cut by ``kill -9`` of its worker and finishes on the other; a drift check and the weekly
report run on the other worker while the first is dead, and every report format is downloaded
through the server. Both stores: an S3 object store (moto's server, its own process) and a
directory given as ``file://`` (what an NFS mount shared by the machines would be).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from modelyard.auth.schemas import Role
from modelyard.kit import migrate
from tests.conftest import PG_ADMIN_URL, REDIS_URL
from tests.s3server import S3Server
from tests.served import MODELYARD, clean_environment, free_port, make_token

# Three fresh interpreters importing the app on a 2-core machine shared with other work can
# take minutes before the journey starts.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(1200)]

ROWS = 200_000
JOB_SECONDS = 300.0
START_SECONDS = 600.0  # three interpreters importing the app at once, on a loaded machine


@dataclass
class Cluster:
    base: str
    headers: dict[str, str]
    database_url: str
    workers: dict[int, subprocess.Popen[bytes]]
    """pid -> process of each ``modelyard worker``."""
    metrics: dict[int, str]
    """pid -> base URL of the worker's /metrics and /health."""
    logs: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=120)

    def log_text(self) -> str:
        for proc in self.workers.values():  # each live worker prints its threads' stacks
            if proc.poll() is None:
                proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        return "\n".join(f"--- {p.name}\n{p.read_text()[-12000:]}" for p in self.logs.glob("*.log"))

    def job_row(self, job_id: int) -> Any:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(
                    sa.text("select status, attempts, worker, error from jobs where id = :id"),
                    {"id": job_id},
                ).one()
        finally:
            engine.dispose()


@contextmanager
def _database() -> Iterator[str]:
    name = f"modelyard_cluster_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen([MODELYARD, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait_ok(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    with httpx.Client(timeout=2) as probe:
        while not _answers(probe, url):
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)


def _answers(probe: httpx.Client, url: str) -> bool:
    try:
        return probe.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def cluster(tmp_path: Path, storage_env: dict[str, str]) -> Iterator[Cluster]:
    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as stack:
        database_url = stack.enter_context(_database())
        migrate.upgrade(database_url)
        token = make_token(database_url, "operator", Role.admin)
        common = {
            "MODELYARD_DATABASE_URL": database_url,
            "MODELYARD_REDIS_URL": REDIS_URL,
            "MODELYARD_JOBS__QUEUE_NAME": f"cluster-{uuid.uuid4().hex[:8]}",
            "MODELYARD_JOBS__STALE_AFTER_SECONDS": "10",
            "MODELYARD_JOBS__RETRY_BACKOFF_SECONDS": "0.5",
            "MODELYARD_LIVE__ENABLED": "false",
            "MODELYARD_ALERTS__ENABLED": "false",
            **storage_env,
        }
        port = free_port()
        server_home = tmp_path / "home-server"
        server_log = logs / "server.log"
        server = stack.enter_context(
            _process(
                ["serve", "--port", str(port)],
                clean_environment(
                    MODELYARD_HOME=str(server_home), MODELYARD_JOBS__WORKERS="0", **common
                ),
                server_log,
            )
        )
        base = f"http://127.0.0.1:{port}"
        workers: dict[int, subprocess.Popen[bytes]] = {}
        metrics: dict[int, str] = {}
        for index in (1, 2):
            metrics_port = free_port()
            log = logs / f"worker-{index}.log"
            env = clean_environment(MODELYARD_HOME=str(tmp_path / f"home-worker-{index}"), **common)
            args = [
                "worker",
                "--concurrency",
                "1",
                "--no-warm",
                "--metrics-port",
                str(metrics_port),
            ]
            proc = stack.enter_context(_process(args, env, log))
            workers[proc.pid] = proc
            metrics[proc.pid] = f"http://127.0.0.1:{metrics_port}"
        _wait_ok(base + "/healthz", server, server_log)
        for index, (pid, proc) in enumerate(workers.items(), start=1):
            _wait_ok(metrics[pid] + "/health/live", proc, logs / f"worker-{index}.log")
        yield Cluster(
            base, {"Authorization": f"Bearer {token}"}, database_url, workers, metrics, logs
        )
    homes = [tmp_path / "home-server", tmp_path / "home-worker-1", tmp_path / "home-worker-2"]
    # No home holds another's files: each has at most its own scratch and cache.
    for home in homes:
        for path in home.rglob("*"):
            assert not str(path.relative_to(home)).startswith(("datasets", "artifacts", "reports"))


def _sklearn_model() -> bytes:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from skops.io import dumps

    rng = np.random.default_rng(7)
    x = rng.normal(size=(2_000, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + rng.normal(0, 0.1, 2_000)
    model = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(x, y)
    return bytes(dumps(model))


def _csv(rows: int, seed: int, shift: float = 0.0) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, size=(rows, 3))
    y = x @ np.array([1.5, -2.0, 0.5])
    lines = ["a,b,c,y"] + [
        f"{r[0]:.5f},{r[1]:.5f},{r[2]:.5f},{t:.5f}" for r, t in zip(x, y, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def _upload_in_chunks(client: httpx.Client, name: str, data: bytes, chunk: int) -> dict[str, Any]:
    created = client.post(
        "/api/datasets/uploads", json={"filename": f"{name}.csv", "name": name, "size": len(data)}
    )
    assert created.status_code == 201, created.text
    upload_id = created.json()["id"]
    for offset in range(0, len(data), chunk):
        r = client.put(
            f"/api/datasets/uploads/{upload_id}",
            params={"offset": offset},
            content=data[offset : offset + chunk],
        )
        assert r.status_code == 200, r.text
    done = client.post(
        f"/api/datasets/uploads/{upload_id}/complete",
        json={"sha256": hashlib.sha256(data).hexdigest()},
    )
    assert done.status_code == 201, done.text
    return dict(done.json())


def _wait_job(cluster: Cluster, client: httpx.Client, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_SECONDS
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        assert time.monotonic() < deadline, (job, cluster.log_text())
        time.sleep(0.2)


def _pid(worker: str | None) -> int:
    assert worker, "the job row names no worker"
    return int(worker.split(":")[1])  # host:pid:suffix


@pytest.fixture(params=["s3", "shared-directory"])
def storage_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        return server.settings_env(server.create_bucket(), "cluster")
    shared = tmp_path / "shared-store"
    shared.mkdir()
    return {"MODELYARD_STORAGE__URL": f"file://{shared}"}


def test_a_server_and_two_workers_share_only_database_queue_and_store(
    tmp_path: Path, storage_env: dict[str, str]
) -> None:
    model = _sklearn_model()
    with cluster(tmp_path, storage_env) as running, running.client() as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok", ready.text

        dataset = _upload_in_chunks(client, "observed", _csv(ROWS, 1), chunk=4 << 20)
        assert dataset["row_count"] == ROWS
        shifted = _upload_in_chunks(client, "shifted", _csv(20_000, 2, shift=0.7), chunk=1 << 20)

        assert client.post("/api/models", json={"name": "hgb"}).status_code == 201
        version = client.post(
            "/api/models/hgb/versions",
            files={"file": ("hgb.skops", model)},
            data={
                "metadata": json.dumps(
                    {"flavor": "sklearn", "parameters": {"features": ["a", "b", "c"]}}
                )
            },
        )
        assert version.status_code == 201, version.text
        download = client.get("/api/models/hgb/versions/1/artifact")
        assert download.status_code == 200 and download.content == model

        # An evaluation starts on one worker; that worker is killed in the middle of it.
        evaluation = client.post(
            "/api/evaluations",
            json={"model": "hgb/1", "dataset": dataset["id"], "target": "y", "chunk_rows": 10_000},
        )
        assert evaluation.status_code == 202, evaluation.text
        job_id = evaluation.json()["job"]["id"]
        deadline = time.monotonic() + JOB_SECONDS
        while True:
            job = client.get(f"/api/jobs/{job_id}").json()
            fraction = job["progress"].get("fraction") or 0.0
            predicting = job["status"] == "running" and job["progress"].get("phase") == "predict"
            if predicting and 0.0 < fraction < 0.8:
                break
            assert job["status"] in ("queued", "running"), (job, running.log_text())
            assert time.monotonic() < deadline, (job, running.log_text())
            time.sleep(0.05)
        victim = _pid(running.job_row(job_id).worker)
        assert victim in running.workers
        os.kill(victim, signal.SIGKILL)
        running.workers[victim].wait(10)
        survivor = next(pid for pid in running.workers if pid != victim)

        # While the evaluation waits to be found orphaned, the other worker takes new work.
        drift = client.post(
            "/api/drift", json={"reference": dataset["id"], "current": shifted["id"]}
        )
        assert drift.status_code == 202, drift.text
        weekly = client.post("/api/reports/weekly", json={})
        assert weekly.status_code == 202, weekly.text

        finished = _wait_job(running, client, job_id)
        assert finished["status"] == "succeeded", (finished, running.log_text())
        row = running.job_row(job_id)
        assert row.attempts == 2 and _pid(row.worker) == survivor
        result = client.get(f"/api/evaluations/{evaluation.json()['id']}").json()
        assert result["status"] == "succeeded" and result["metrics"]["rmse"] < 1.0

        drift_job = _wait_job(running, client, drift.json()["job"]["id"])
        assert drift_job["status"] == "succeeded", drift_job
        assert client.get(f"/api/drift/{drift.json()['id']}").json()["dataset_drifted"] is True
        weekly_job = _wait_job(running, client, weekly.json()["job_id"])
        assert weekly_job["status"] == "succeeded", weekly_job
        assert _pid(running.job_row(weekly.json()["job_id"]).worker) == survivor
        report = client.get(f"/api/reports/{weekly_job['result']['report_id']}").json()
        assert {"json", "html", "png"} <= set(report["files"])
        for fmt, size in report["files"].items():
            body = client.get(f"/api/reports/{report['id']}/{fmt}")
            assert body.status_code == 200 and len(body.content) == size, (fmt, body.text[:200])

        # The surviving worker's own endpoints: ready, and its job counters.
        probe = httpx.get(running.metrics[survivor] + "/health/ready", timeout=10)
        assert probe.status_code == 200 and probe.json()["checks"]["store"] == "ok", probe.text
        exposed = httpx.get(
            running.metrics[survivor] + "/metrics", headers=running.headers, timeout=10
        )
        assert exposed.status_code == 200
        assert 'modelyard_jobs_ended_total{kind="evaluation",outcome="succeeded"} 1.0' in (
            exposed.text
        )
        refused = httpx.get(running.metrics[survivor] + "/metrics", timeout=10)
        assert refused.status_code == 401

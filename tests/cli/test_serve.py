"""``modelyard serve``: one worker is one process, and Ctrl-C (SIGINT) stops it cleanly.

SIGTERM, the restart with queued jobs and Redis are covered by tests/jobs/test_processes.py.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.kit import migrate
from modelyard.kit.db import Database

MODELYARD = str(Path(sys.executable).with_name("modelyard"))

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _admin_token(url: str) -> str:
    db = Database(url)
    try:
        with db.session() as session:
            user = auth_service.create_user(
                session,
                UserCreate(name="admin", password="password-123", role=Role.admin),
                actor="test",
            )
            token = auth_service.create_token(
                session, user, lifetime=dt.timedelta(hours=1), actor="test"
            ).token
    finally:
        db.dispose()
    return token


def _job_row(url: str, job_id: int) -> tuple[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT status, attempts FROM jobs WHERE id = :id"), {"id": job_id}
            ).one()
    finally:
        engine.dispose()
    return str(row.status), int(row.attempts)


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    url: str
    headers: dict[str, str]
    log: Path
    deadline: float


@contextmanager
def serving(tmp_path: Path) -> Iterator[Served]:
    """``modelyard serve`` on a fresh SQLite home with an admin token, once it answers
    /healthz; stopped with SIGINT (killed if it will not stop) when the block ends."""
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    headers = {"Authorization": f"Bearer {_admin_token(url)}"}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {"MODELYARD_HOME": str(tmp_path), "MODELYARD_DATABASE_URL": url}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [MODELYARD, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 180  # a loaded 2-core machine imports slowly
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield Served(proc, base, url, headers, log, deadline)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def test_one_worker_is_one_process_and_sigint_runs_the_lifespan_shutdown(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        proc, log = served.proc, served.log
        assert psutil.Process(proc.pid).children(recursive=True) == []

        job = httpx.post(
            served.base + "/api/jobs",
            json={"kind": "sleep", "params": {"seconds": 60, "steps": 600}},
            headers=served.headers,
        ).json()["id"]
        while _job_row(served.url, job)[0] != "running":
            assert time.monotonic() < served.deadline, log.read_text()
            time.sleep(0.1)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()
    # The job workers stopped with the lifespan: the interrupted job waits for the next start.
    assert _job_row(served.url, job) == ("queued", 1), log.read_text()


def test_deployment_event_streams_stay_open_under_granian(tmp_path: Path) -> None:
    """Under granian (not the TestClient), a deployment's SSE stream stays open while idle: a
    disconnect check in the generator once ended about half of them at once."""
    with serving(tmp_path) as served:
        log = served.log
        api = httpx.Client(base_url=served.base + "/api", headers=served.headers, timeout=10)
        assert api.post("/models", json={"name": "flat"}).status_code == 201
        version = {"flavor": "formula", "parameters": {"kind": "linear", "coef": {}}}
        assert api.post("/models/flat/versions", json=version).status_code == 201
        target = {"name": "pushed", "kind": "push", "interval_seconds": 1}
        assert api.post("/targets", json=target).status_code == 201, log.read_text()
        deployment = {"name": "watch", "target": "pushed", "model": "flat/1"}
        assert api.post("/deployments", json=deployment).status_code == 201

        for attempt in range(6):
            opened = time.monotonic()
            received = b""
            with api.stream("GET", "/deployments/watch/events", timeout=5) as response:
                assert response.status_code == 200
                try:
                    for chunk in response.iter_bytes():
                        received += chunk
                        if time.monotonic() - opened > 2:
                            break
                except httpx.RemoteProtocolError as exc:
                    raise AssertionError(
                        f"stream {attempt} ended after {time.monotonic() - opened:.2f} s: "
                        f"{exc}; received {received!r}"
                    ) from exc
                except httpx.ReadTimeout:
                    pass  # open and idle for the whole read timeout: what we want
            assert received.startswith(b"retry: 2000"), received
        api.close()

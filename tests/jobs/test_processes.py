"""Real processes: ``kill -9`` of a ``modelyard worker`` mid-job, and ``modelyard serve``
running embedded workers, shutting down cleanly on SIGTERM and restarting with jobs queued."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.jobs.schemas import JobStatus
from tests.jobs.conftest import REPO_ROOT, JobEnv
from tests.jobs.test_events import sse

MODELYARD = str(Path(sys.executable).with_name("modelyard"))

pytestmark = pytest.mark.slow
EMBEDDED_AND_REDIS = pytest.mark.parametrize(
    "job_env", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)], indirect=True
)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [MODELYARD, *args], env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@EMBEDDED_AND_REDIS
def test_kill_9_of_a_worker_process_mid_job(job_env: JobEnv, tmp_path: Path) -> None:
    stale = 1.5  # generous: a loaded machine must not make a live worker look dead
    job_env.runtime(workers=0, stale_after_seconds=stale)  # submits; reaps (as the server does)
    env = job_env.process_env(stale_after_seconds=stale)
    args = ["worker", "--concurrency", "2", "--import", "tests.jobs.kinds"]
    with process(args, env, tmp_path / "worker.log") as worker:
        retryable = job_env.submit("test.slow_retryable", {"seconds": 120}).id
        fragile = job_env.submit("test.slow_fragile", {"seconds": 120}).id
        for job_id in (retryable, fragile):
            job = job_env.wait(job_id, lambda j: j.status == JobStatus.running, timeout=60)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    assert job.status == JobStatus.running

    # The reaper that was already running notices the missing heartbeat.
    lost = job_env.wait(fragile)
    assert lost.status == JobStatus.failed and lost.attempts == 1
    assert "Worker lost" in (lost.error or "") and "stopped responding" in (lost.error or "")
    assert "not retried automatically" in (lost.error or "")
    requeued = job_env.wait(retryable, lambda j: j.status != JobStatus.running)
    assert requeued.status == JobStatus.queued and "re-queued" in (requeued.error or "")

    job_env.runtime(workers=1, stale_after_seconds=stale)  # a surviving worker
    again = job_env.wait(retryable)
    assert again.status == JobStatus.succeeded and again.attempts == 2, again
    assert again.result == {"attempt": 2}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_token(env: JobEnv) -> str:
    with env.db.session() as session:
        user = auth_service.create_user(
            session, UserCreate(name=f"op-{env.queue_name[-8:]}", role=Role.admin), actor="test"
        )
        return auth_service.create_token(
            session, user, lifetime=dt.timedelta(hours=1), actor="test"
        ).token


@contextmanager
def serving(env: JobEnv, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    environ = env.process_env(workers=1)
    with process(["serve", "--port", str(port)], environ, log) as proc:
        base = f"http://127.0.0.1:{port}"
        # generous: on a loaded 2-core machine importing the app in granian's worker took > 60 s
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield proc, base


@pytest.mark.parametrize("job_env", ["sqlite"], indirect=True)
def test_serve_runs_jobs_stops_cleanly_and_restarts_with_jobs_queued(
    job_env: JobEnv, tmp_path: Path
) -> None:
    """The embedded default: no other service; the restart finds the queue file."""
    headers = {"Authorization": f"Bearer {_admin_token(job_env)}"}
    log = tmp_path / "serve.log"
    events: list[dict[str, Any]] = []
    stream_ended = threading.Event()

    def follow(base: str, job_id: int) -> None:
        with httpx.stream(
            "GET", f"{base}/api/jobs/{job_id}/events", headers=headers, timeout=60
        ) as response:
            for _, job in sse(response.iter_lines()):
                events.append(job)
        stream_ended.set()

    with serving(job_env, log) as (proc, base):
        long = httpx.post(
            f"{base}/api/jobs",
            json={"kind": "sleep", "params": {"seconds": 2, "steps": 40}},
            headers=headers,
        ).json()["id"]
        listener = threading.Thread(target=follow, args=(base, long), daemon=True)
        listener.start()
        job_env.wait(long, lambda j: (j.progress.fraction or 0) > 0)
        queued = [
            httpx.post(
                f"{base}/api/jobs",
                json={"kind": "sleep", "params": {"seconds": 0}},
                headers=headers,
            ).json()["id"]
            for _ in range(2)
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
        assert stream_ended.wait(10), "the SSE stream did not end at shutdown"
    assert any(job["progress"]["fraction"] for job in events), events
    interrupted = job_env.job(long)
    assert interrupted.status == JobStatus.queued and interrupted.attempts == 1
    assert [job_env.job(i).status for i in queued] == [JobStatus.queued] * 2

    with serving(job_env, tmp_path / "serve2.log") as (proc, _base):
        for job_id in [long, *queued]:
            assert job_env.wait(job_id).status == JobStatus.succeeded
        assert job_env.job(long).attempts == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0

"""``modelyard serve``: one worker is one process, and Ctrl-C (SIGINT) stops it cleanly.

SIGTERM, the restart with queued jobs and Redis are covered by tests/jobs/test_processes.py.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa
from tests.served import serving

pytestmark = pytest.mark.slow


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

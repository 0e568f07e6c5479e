"""``modelyard serve`` and ``modelyard worker`` start while Redis is down, with jobs queued.

Jobs are queued while a Redis of the test's own runs; it is stopped (its queue, kept in
memory only, is lost with it) and both processes start: the server answers, its readiness
names Redis, the worker keeps running, and each logs one line per back-off step rather than
one per poll. Redis comes back on the same port: the queued rows are enqueued again and the
worker runs every one of them, with no restart.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from modelyard.config import JobSettings, Settings
from modelyard.jobs import service as jobs_service
from modelyard.jobs.runtime import JobRuntime
from modelyard.jobs.schemas import JobStatus
from modelyard.kit import migrate
from modelyard.kit.db import Database
from tests.reliability._services import PrivateRedis
from tests.served import MODELYARD, clean_environment, serving

pytestmark = pytest.mark.slow

JOBS = 3
BACKOFF_LINE = re.compile(r"^(?P<what>.+?) is unavailable \(.*\); attempt \d+, retrying in")


def _queue_jobs(home: Path, url: str, redis_url: str) -> list[int]:
    migrate.upgrade(url)
    db = Database(url)
    settings = Settings(
        home=home, database_url=url, redis_url=redis_url, jobs=JobSettings(backend="redis")
    )
    runtime = JobRuntime(settings, db)
    try:
        with db.session() as session:
            ids = [
                jobs_service.submit(session, runtime, kind="sleep", params={"seconds": 0}).id
                for _ in range(JOBS)
            ]
    finally:
        runtime.huey.storage.close()
        db.dispose()
    return ids


def _statuses(url: str, ids: list[int]) -> list[JobStatus]:
    db = Database(url)
    try:
        with db.session() as session:
            return [jobs_service.get(session, job_id).status for job_id in ids]
    finally:
        db.dispose()


def _backoff_lines(log: Path) -> Counter[str]:
    """How many back-off lines each dependency logged."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        match = BACKOFF_LINE.match(line.strip())
        if match:
            found[match["what"]] += 1
    return found


def test_serve_and_worker_start_with_redis_down_and_jobs_queued(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'modelyard.db'}"
    private_redis.start()
    ids = _queue_jobs(home, url, private_redis.url)
    private_redis.stop()

    env = {
        "MODELYARD_REDIS_URL": private_redis.url,
        "MODELYARD_JOBS__BACKEND": "redis",
        "MODELYARD_JOBS__POLL_SECONDS": "0.05",
    }
    worker_log = tmp_path / "worker.log"
    with worker_log.open("wb") as out:
        worker = subprocess.Popen(
            [MODELYARD, "worker", "--concurrency", "1", "--no-warm"],
            env=clean_environment(MODELYARD_HOME=str(home), MODELYARD_DATABASE_URL=url, **env),
            stdout=out,
            stderr=out,
        )
    try:
        # The server runs no jobs itself: the worker must run them all.
        with serving(home, MODELYARD_JOBS__WORKERS="0", **env) as served:
            down_since = time.monotonic()
            ready = httpx.get(served.base + "/health/ready", timeout=30)
            assert ready.status_code == 503
            assert ready.headers["content-type"] == "application/problem+json"
            checks = ready.json()["checks"]
            assert checks["database"] == "ok" and checks["redis"] != "ok", checks
            assert "redis" in ready.json()["detail"]
            # Reads do not need Redis.
            models = httpx.get(served.base + "/api/models", headers=served.headers, timeout=30)
            assert models.status_code == 200, models.text
            time.sleep(5)  # idle with Redis down: a few lines, not one per poll
            assert worker.poll() is None, worker_log.read_text()
            assert _statuses(url, ids) == [JobStatus.queued] * JOBS
            outage = time.monotonic() - down_since + 30  # both started before down_since
            for log in (worker_log, served.log):
                counts = _backoff_lines(log)
                assert counts, log.read_text()
                # Doubling from 0.5 s to 30 s: about log2(outage / 0.5) + outage / 30 lines.
                most = 10 + int(outage / 30)
                assert max(counts.values()) <= most, (log.name, counts, outage)
                assert len(log.read_text().splitlines()) < 400, log.name

            private_redis.start()
            deadline = time.monotonic() + 120
            while _statuses(url, ids) != [JobStatus.succeeded] * JOBS:
                assert time.monotonic() < deadline, (
                    _statuses(url, ids),
                    worker_log.read_text()[-3000:],
                )
                assert worker.poll() is None, worker_log.read_text()
                time.sleep(0.2)
            deadline = time.monotonic() + 30
            while httpx.get(served.base + "/health/ready", timeout=30).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
    assert worker.returncode == 0, worker_log.read_text()[-3000:]
    assert "is back after" in worker_log.read_text()

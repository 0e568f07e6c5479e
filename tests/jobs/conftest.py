"""Job-system fixtures: a job database with two users, and ``job_env``, parametrised over
the queue backends (embedded SQLite and Redis at 127.0.0.1:6379; ``ALL_QUEUE_BACKENDS``
adds Huey's PostgreSQL tables).

Each test gets its own queue name (and, for SQLite, its own queue file), so runtimes of
different tests never see each other's jobs; Redis keys and PostgreSQL queue rows of that
name are deleted afterwards.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import tests.jobs.kinds  # noqa: F401  (registers the test kinds)
from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Principal, Role, UserCreate
from modelyard.config import JobSettings, Settings
from modelyard.jobs import service
from modelyard.jobs.runtime import JobRuntime
from modelyard.jobs.schemas import TERMINAL, JobOut
from modelyard.kit import migrate
from modelyard.kit.db import Database
from tests.conftest import REDIS_URL

REPO_ROOT = Path(__file__).resolve().parents[2]


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _redis_available():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(scope="session")
def jobs_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("jobs-db") / "modelyard.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


_users: dict[str, tuple[Principal, Principal]] = {}


def _principals(db: Database) -> tuple[Principal, Principal]:
    key = db.url
    if key not in _users:
        made = []
        with db.session() as session:
            for who in ("alice", "bob"):
                user = auth_service.create_user(
                    session,
                    UserCreate(name=f"{who}-{uuid.uuid4().hex[:6]}", role=Role.editor),
                    actor="test",
                )
                made.append(Principal(id=user.id, name=user.name, role=Role.editor))
        _users[key] = (made[0], made[1])
    return _users[key]


class JobEnv:
    """One test's queue: settings, runtimes, submit and wait helpers."""

    def __init__(self, backend: str, database_url: str, home: Path, redis_url: str | None) -> None:
        self.backend = backend
        self.database_url = database_url
        self.home = home
        self.redis_url = redis_url
        self.queue_name = f"test_{uuid.uuid4().hex[:12]}"
        self.db = Database(database_url)
        self.alice, self.bob = _principals(self.db)
        self.runtimes: list[JobRuntime] = []

    def settings(self, **jobs: Any) -> Settings:
        values: dict[str, Any] = {
            "backend": self.backend,
            "queue_name": self.queue_name,
            "workers": 0,
            "stale_after_seconds": 0.6,
            "retry_backoff_seconds": 0.0,
            "poll_seconds": 0.05,
            "progress_flush_seconds": 0.05,
            "shutdown_grace_seconds": 3.0,
        }
        values.update(jobs)
        return Settings(
            home=self.home,
            database_url=self.database_url,
            redis_url=self.redis_url,
            jobs=JobSettings(**values),
        )

    def runtime(self, workers: int = 0, *, start: bool = True, **jobs: Any) -> JobRuntime:
        runtime = JobRuntime(self.settings(**jobs), self.db)
        if start:
            runtime.start(workers)
        self.runtimes.append(runtime)
        return runtime

    def current(self) -> JobRuntime:
        """The runtime made last that is not stopping: the one this process submits to."""
        return next(r for r in reversed(self.runtimes) if not r.stopping)

    def submit(self, kind: str, params: dict[str, Any] | None = None, **kw: Any) -> JobOut:
        with self.db.session() as session:
            return service.submit(session, self.current(), kind=kind, params=params or {}, **kw)

    def job(self, job_id: int) -> JobOut:
        with self.db.session() as session:
            return service.get(session, job_id)

    def wait(
        self, job_id: int, until: Callable[[JobOut], bool] | None = None, timeout: float = 30.0
    ) -> JobOut:
        until = until or (lambda j: j.status in TERMINAL)
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if until(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} never reached the expected state: {job}")
            time.sleep(0.02)

    def process_env(self, **jobs: Any) -> dict[str, str]:
        """Environment for a ``modelyard worker`` subprocess on this queue."""
        env = dict(os.environ)
        env.update(
            MODELYARD_HOME=str(self.home),
            MODELYARD_DATABASE_URL=self.database_url,
            MODELYARD_JOBS__BACKEND=self.backend,
            MODELYARD_JOBS__QUEUE_NAME=self.queue_name,
            MODELYARD_JOBS__POLL_SECONDS="0.05",
            MODELYARD_JOBS__PROGRESS_FLUSH_SECONDS="0.05",
            PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        )
        if self.redis_url:
            env["MODELYARD_REDIS_URL"] = self.redis_url
        else:
            env.pop("MODELYARD_REDIS_URL", None)
        for key, value in jobs.items():
            env[f"MODELYARD_JOBS__{key.upper()}"] = str(value)
        return env

    def close(self) -> None:
        for runtime in reversed(self.runtimes):
            runtime.stop(grace_seconds=2)
        if self.backend == "redis" and self.redis_url:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(match=f"huey.*.{self.queue_name}*"):
                client.delete(key)
            client.close()
        if self.backend == "postgres":
            with self.db.session() as session:
                for table in (
                    "modelyard_queue_task",
                    "modelyard_queue_schedule",
                    "modelyard_queue_kv",
                ):
                    session.execute(
                        sa.text(f"DELETE FROM {table} WHERE queue = :q"), {"q": self.queue_name}
                    )
        self.db.dispose()


QUEUE_BACKENDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
# Huey's PostgreSQL storage is an option, not the default: a few tests cover it too.
ALL_QUEUE_BACKENDS = pytest.mark.parametrize(
    "job_env",
    [*QUEUE_BACKENDS, pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)

_migrated: set[str] = set()


@pytest.fixture(params=QUEUE_BACKENDS)
def job_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobEnv]:
    backend = str(request.param)
    redis = None
    if backend == "redis":
        redis = request.getfixturevalue("redis_url")
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        if url not in _migrated:
            migrate.upgrade(url)
            _migrated.add(url)
    else:
        url = request.getfixturevalue("jobs_sqlite_url")
    env = JobEnv(backend, url, tmp_path, redis)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def sqlite_env(jobs_sqlite_url: str, tmp_path: Path) -> Iterator[JobEnv]:
    """The embedded default only (behaviour that does not depend on the queue backend)."""
    env = JobEnv("sqlite", jobs_sqlite_url, tmp_path, None)
    try:
        yield env
    finally:
        env.close()

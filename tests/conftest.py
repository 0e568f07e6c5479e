"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app, and clients
authenticated as each role.

Database-backed fixtures are parametrised over both backends; a test that needs only the
embedded default uses ``sqlite_*`` fixtures. PostgreSQL tests create and drop their own
database on the server at 127.0.0.1:5432 (trust auth).

The two backends are also the two blob stores, as an installation would pair them: SQLite
with files under the home, PostgreSQL with an S3 object store (moto's server, started by
:func:`s3_server` as its own process; a bucket per session). So every test of a file the
product keeps (datasets, artifacts, reports, upload parts) runs on both stores; such tests
look at the store through ``blob_store``, never at the home's directories.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from modelyard.app import create_app
from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.config import Settings, StorageSettings
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.storage import BlobStore, open_store
from tests.s3server import S3Server, start_s3_server
from tests.served import LiveServer, make_token, serving

PG_ADMIN_URL = os.environ.get(
    "MODELYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MODELYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"modelyard_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(home: Path, database_url: str, **overrides: object) -> Settings:
    settings = Settings(home=home, database_url=database_url, **overrides)  # type: ignore[arg-type]
    settings.jobs.workers = int(os.environ.get("MODELYARD_TEST_WORKERS", "2"))
    settings.alerts.enabled = False  # alert tests drive Evaluator.tick themselves
    settings.webhooks.enabled = False  # delivery tests drive deliver_due themselves
    settings.webhooks.hosts = ["127.0.0.1"]  # nothing fuzzed leaves the machine
    return settings


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server in its own process, with authentication on; stopped at the end."""
    server = start_s3_server(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


def s3_storage(server: S3Server, bucket: str, prefix: str = "suite") -> StorageSettings:
    return StorageSettings(
        url=f"s3://{bucket}/{prefix}",
        endpoint_url=server.endpoint_url,
        region="us-east-1",
        access_key_id=server.access_key_id,
        secret_access_key=SecretStr(server.secret_access_key),
    )


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Settings:
    home = tmp_path_factory.mktemp(f"home-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{home / 'modelyard.db'}"
        migrate.upgrade(url)
        return make_settings(home, url)
    url = request.getfixturevalue("postgres_url")
    server: S3Server = request.getfixturevalue("s3_server")
    migrate.upgrade(url)
    return make_settings(home, url, storage=s3_storage(server, server.create_bucket()))


@pytest.fixture(scope="session")
def blob_store(settings: Settings) -> BlobStore:
    """The store the app of this session keeps its files in (local or S3)."""
    return open_store(settings)


def blob_keys(store: BlobStore, prefix: str) -> set[str]:
    return {blob.key for blob in store.list(prefix)}


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.resolved_database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def app_client(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan running (workers and live loops included)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def ended_job_status(database: Database, job_id: int, timeout: float = 60.0) -> str | None:
    """A job's status once it has left queued and running: the worker ends the job's row in
    its own transaction, just after the task has ended the domain's row."""
    from modelyard.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with database.session() as session:
            status = session.scalar(sa.select(Job.status).where(Job.id == job_id))
        if status not in ("queued", "running") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _make_user(database: Database, role: Role) -> tuple[str, str]:
    name = f"{role.value}-{uuid.uuid4().hex[:8]}"
    with database.session() as s:
        user = auth_service.create_user(
            s, UserCreate(name=name, password="password-123", role=role), actor="test"
        )
        token = auth_service.create_token(s, user, lifetime=dt.timedelta(days=1), actor="test")
    return name, token.token


@pytest.fixture(scope="session")
def tokens(database: Database) -> dict[str, tuple[str, str]]:
    """(user name, token) for each role."""
    return {role.value: _make_user(database, role) for role in Role}


class Api:
    """A thin client for one role: ``api.get("/models")`` prefixes /api and sends the token."""

    def __init__(self, client: TestClient, token: str | None, user: str | None = None) -> None:
        self.client = client
        self.user = user
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.request(method, "/api" + path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("DELETE", path, **kw)


@pytest.fixture
def admin(app_client: TestClient, tokens: dict[str, tuple[str, str]]) -> Api:
    return Api(app_client, tokens["admin"][1], tokens["admin"][0])


@pytest.fixture
def editor(app_client: TestClient, tokens: dict[str, tuple[str, str]]) -> Api:
    return Api(app_client, tokens["editor"][1], tokens["editor"][0])


@pytest.fixture
def viewer(app_client: TestClient, tokens: dict[str, tuple[str, str]]) -> Api:
    return Api(app_client, tokens["viewer"][1], tokens["viewer"][0])


@pytest.fixture
def anonymous(app_client: TestClient) -> Api:
    return Api(app_client, None)


@pytest.fixture
def unique() -> str:
    """A fresh suffix so tests sharing a session database never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real ``modelyard serve`` (SQLite, embedded workers) for every test of the session
    that talks HTTP to a server: the Python client's and the CLI's."""
    home = tmp_path_factory.mktemp("live-server")
    with serving(home) as served:
        tokens = {role.value: make_token(served.url, f"live-{role.value}", role) for role in Role}
        yield LiveServer(served, tokens)

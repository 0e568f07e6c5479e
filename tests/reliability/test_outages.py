"""Readiness names what is missing, and a database or Redis outage is a 503 problem, not a 500.

Each test runs the app against a Redis or a PostgreSQL of its own and stops it mid-test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from modelyard.app import create_app
from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.kit.errors import PROBLEM_MEDIA_TYPE
from tests.conftest import make_settings
from tests.reliability._services import PrivatePostgres, PrivateRedis


def _token(url: str) -> str:
    db = Database(url)
    try:
        with db.session() as s:
            user = auth_service.create_user(
                s, UserCreate(name="ops", password="password-123", role=Role.admin), actor="test"
            )
            return auth_service.create_token(
                s, user, lifetime=dt.timedelta(hours=1), actor="test"
            ).token
    finally:
        db.dispose()


def test_ready_lists_every_dependency(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    with TestClient(create_app(make_settings(tmp_path, url))) as client:
        assert client.get("/health/live").json() == {"status": "alive"}
        ready = client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "store": "ok"}


def test_redis_outage_is_named_by_readiness(tmp_path: Path, private_redis: PrivateRedis) -> None:
    private_redis.start()
    url = f"sqlite:///{tmp_path / 'modelyard.db'}"
    migrate.upgrade(url)
    token = _token(url)
    settings = make_settings(tmp_path, url, redis_url=private_redis.url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/health/ready").json()["checks"] == {
            "database": "ok",
            "redis": "ok",
            "store": "ok",
        }
        private_redis.stop()
        down = client.get("/health/ready")
        assert down.status_code == 503
        assert down.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert down.headers["retry-after"]
        body = down.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"] != "ok"
        assert "redis" in body["detail"] and "database" not in body["detail"]
        # Reads do not need Redis.
        models = client.get("/api/models", headers={"Authorization": f"Bearer {token}"})
        assert models.status_code == 200
        private_redis.start()
        assert client.get("/health/ready").status_code == 200


def test_postgres_outage_is_a_503_problem_and_recovers(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    url = private_postgres.url
    migrate.upgrade(url)
    token = _token(url)
    auth = {"Authorization": f"Bearer {token}"}
    settings = make_settings(tmp_path, url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/api/models", json={"name": "kept"}, headers=auth).status_code == 201
        private_postgres.stop()
        try:
            for method, path, body in [
                ("GET", "/api/models/kept", None),
                ("POST", "/api/models", {"name": "lost"}),
            ]:
                r = client.request(method, path, json=body, headers=auth)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
                assert int(r.headers["retry-after"]) > 0
                assert "database" in r.json()["detail"]
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] != "ok"
        finally:
            private_postgres.start()
        # The pool reconnects by itself: no restart of the server.
        assert client.get("/health/ready").status_code == 200
        assert client.get("/api/models/kept", headers=auth).status_code == 200
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = set(conn.scalars(sa.text("select name from registered_models")))
    engine.dispose()
    assert names == {"kept"}

"""Errors are problem documents, and the OpenAPI document says so for every operation."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from modelyard.kit.errors import PROBLEM_MEDIA_TYPE, install_handlers
from tests.conftest import Api


def test_validation_error_is_a_problem_naming_the_field(editor: Api) -> None:
    r = editor.post("/models", json={"name": "bad name!"})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = r.json()
    assert body["status"] == 422 and "name" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["name"]


def test_405_allows_every_method_of_the_path(editor: Api) -> None:
    r = editor.request("TRACE", "/models")
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.headers["allow"] == "GET, POST"
    assert "GET, POST" in r.json()["detail"]


def test_openapi_documents_problem_responses(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    create = document["paths"]["/api/models"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "409", "422"):
        media = create[status]["content"][PROBLEM_MEDIA_TYPE]
        assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert media["example"]["status"] == int(status)
    listing = document["paths"]["/api/models"]["get"]["responses"]
    assert "409" not in listing and "413" not in listing
    assert "401" in document["paths"]["/api/auth/login"]["post"]["responses"]


def test_version_body_schema_resolves(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    body = document["paths"]["/api/models/{name}/versions"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["properties"]["flavor"]["pattern"]
    multipart = body["multipart/form-data"]
    assert multipart["encoding"] == {"metadata": {"contentType": "application/json"}}
    tags = multipart["schema"]["properties"]["metadata"]["properties"]["tags"]
    assert tags["propertyNames"]["pattern"] and tags["maxProperties"] == 100


def test_405_allow_names_the_matched_path_only() -> None:
    """``/things/me`` also matches ``/things/{name}``; Allow describes ``/things/me`` alone."""
    app = FastAPI()
    install_handlers(app)
    router = APIRouter(prefix="/things")

    @router.get("/me")
    async def me() -> dict[str, str]:
        return {}

    @router.patch("/{name}")
    async def rename(name: str) -> dict[str, str]:
        return {}

    app.include_router(router, prefix="/api")
    with TestClient(app) as client:
        r = client.put("/api/things/me")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"


def test_full_disk_and_lost_database_are_5xx_problems(tmp_path: Path) -> None:
    """Whatever raises it: a full disk is a 507 naming the file system, a lost database a
    503 with Retry-After, and any other OSError stays a 500."""
    import errno
    import sqlite3

    from sqlalchemy.exc import OperationalError

    app = FastAPI()
    install_handlers(app)
    target = tmp_path / "data" / "file.part"

    @app.get("/enospc")
    async def enospc() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    @app.get("/arrow")
    async def arrow() -> None:
        raise OSError(
            "IOError: [Errno 28] Error writing bytes to file. Detail: No space left on device"
        )

    @app.get("/sqlite-full")
    def sqlite_full() -> None:
        raise OperationalError("insert", {}, sqlite3.OperationalError("database or disk is full"))

    @app.get("/postgres-gone")
    def postgres_gone() -> None:
        exc = OperationalError("select", {}, Exception("server closed the connection"))
        raise exc

    @app.get("/other")
    async def other() -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    client = TestClient(app, raise_server_exceptions=False)
    full = client.get("/enospc")
    assert full.status_code == 507
    assert full.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert str(target) in full.json()["detail"] and full.json()["disk"]
    assert client.get("/arrow").status_code == 507
    assert client.get("/sqlite-full").status_code == 507
    gone = client.get("/postgres-gone")
    assert gone.status_code == 503 and int(gone.headers["retry-after"]) > 0
    assert "database" in gone.json()["detail"]
    assert client.get("/other").status_code == 500

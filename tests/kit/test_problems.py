"""Errors are problem documents, and the OpenAPI document says so for every operation."""

from __future__ import annotations

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
        assert create[status]["content"] == {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
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

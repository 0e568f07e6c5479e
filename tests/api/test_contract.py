"""The OpenAPI document as a contract that client generators can use.

Operation ids are ``<group>.<verb>`` (see :func:`modelyard.kit.openapi.operation_id`), unique
and stable, so a generated client's method names do not change when a path or a function's
module does.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from modelyard.app import create_app
from modelyard.kit import migrate
from tests.conftest import make_settings

METHODS = {"get", "post", "put", "patch", "delete"}
OPERATION_ID = re.compile(r"^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    home = tmp_path_factory.mktemp("contract")
    url = f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(url)
    return create_app(make_settings(home, url))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns about a duplicate operation id
        return app.openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_operation_ids_are_group_dot_verb_and_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    bad = [i for i in ids if not OPERATION_ID.match(i)]
    assert bad == []
    # The verb does not repeat the group's noun: "models.create", never "models.create_model".
    repeats = [i for i in ids if i.split(".")[0].removesuffix("s") in i.split(".")[1].split("_")]
    assert repeats == []
    by_route = {(m, p): op["operationId"] for m, p, op in _operations(document)}
    assert by_route[("post", "/api/models")] == "models.create"
    assert by_route[("put", "/api/models/{name}/aliases/{alias}")] == "aliases.set"
    assert by_route[("post", "/api/models/{name}/versions")] == "versions.create"
    assert by_route[("post", "/api/evaluations")] == "evaluations.create"
    assert by_route[("get", "/api/jobs/{job_id}/events")] == "jobs.events"


def test_summaries_are_the_handlers_first_docstring_line(document: dict[str, Any]) -> None:
    for _, _, op in _operations(document):
        first = " ".join(op["description"].strip().split("\n\n")[0].split()).rstrip(".")
        assert op["summary"] == first, op["operationId"]


def test_every_operation_has_an_example_that_fits_its_schema(document: dict[str, Any]) -> None:
    import jsonschema_rs

    for _, _, op in _operations(document):
        found = any("example" in p for p in op.get("parameters", []))
        bodies = [op.get("requestBody", {}), *op["responses"].values()]
        for body in bodies:
            for media_type, media in body.get("content", {}).items():
                if "example" not in media:
                    continue
                found = True
                if "json" in media_type:
                    schema = {**media["schema"], "components": document["components"]}
                    errors = list(
                        jsonschema_rs.Draft202012Validator(schema).iter_errors(media["example"])
                    )
                    assert errors == [], (op["operationId"], media_type, str(errors[0]))
        assert found, op["operationId"]


def test_no_reference_dangles(document: dict[str, Any]) -> None:
    import json

    named = set(re.findall(r"#/components/schemas/([A-Za-z0-9_.\-]+)", json.dumps(document)))
    assert named - set(document["components"]["schemas"]) == set()


def test_fields_are_described(document: dict[str, Any]) -> None:
    undescribed = sorted(
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    )
    assert undescribed == [], "describe every field of every schema"


def test_problem_types_name_the_error_and_are_documented(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    from modelyard.kit.problem_types import PROBLEM_TYPES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for problem in PROBLEM_TYPES:
        assert f"| `{problem.slug}` |" in readme, problem.slug
    with TestClient(app) as client:
        missing = client.get("/api/models/no-such-model")
        assert missing.status_code == 401  # no token: not-authenticated comes first
        assert missing.json()["type"] == "/problems#not-authenticated"
        nothing = client.get("/api/no/such/endpoint")
        assert nothing.json()["type"] == "/problems#no-such-endpoint"
        page = client.get("/problems")
        assert page.status_code == 200 and 'id="not-found"' in page.text


def test_docs_pages_use_the_servers_own_assets(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            page = client.get(path)
            assert page.status_code == 200
            assert (
                "https://" not in page.text
                and "script-src 'self'" in page.headers["content-security-policy"]
            )
            src = re.search(rf'src="(/static/vendor/{re.escape(asset)}[^"]*)"', page.text)
            assert src, page.text
            assert client.get(src.group(1)).status_code == 200
        assert (
            client.get(
                re.search(r'src="(/static/api-docs.js[^"]*)"', client.get("/docs").text).group(1)
            ).status_code
            == 200
        )  # type: ignore[union-attr]

"""The OpenAPI document as a contract that client generators can use.

Operation ids are ``<group>.<verb>`` (see :func:`modelyard.kit.openapi.operation_id`), unique
and stable, so a generated client's method names do not change when a path or a function's
module does.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from fastapi import FastAPI

from modelyard.app import create_app
from tests.conftest import make_settings

METHODS = {"get", "post", "put", "patch", "delete"}
OPERATION_ID = re.compile(r"^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    home = tmp_path_factory.mktemp("contract")
    return create_app(make_settings(home, f"sqlite:///{home / 'modelyard.db'}"))


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

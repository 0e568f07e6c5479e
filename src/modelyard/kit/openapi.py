"""Make the OpenAPI document state the errors that the API really returns.

Every error leaves the app as an ``application/problem+json`` body (:mod:`modelyard.kit.errors`),
but FastAPI documents only its own 422 shape, under ``application/json``. :func:`document_problems`
post-processes the generated document once: it adds a ``Problem`` component and gives each
operation the error statuses that it can answer with, derived from what the operation declares:

- security scheme: 401 (no or bad credentials) and 403 (role too low);
- any parameter or body: 400 (a value the service refuses), 404 (no object of the name or
  id given in the path, query or body) and 422 (invalid input);
- a write method: 409 (conflicts with what is stored);
- a request body: 413 (too large) and 415 (media type not accepted).

A route adds a status that these rules cannot see with ``responses=problems(401)``.

Operation ids are ``<group>.<verb>`` (``models.create``, ``aliases.set``), what generated
clients name their methods after. :func:`operation_id` derives them from each route, so they
live in one place: the group is the route's first tag and the verb is the endpoint
function's name without the group's noun (``set_alias`` tagged ``aliases`` is
``aliases.set``; ``deployment_metrics`` tagged ``deployments`` is ``deployments.metrics``).
A well-named endpoint function is therefore all a new route needs.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from modelyard.kit.errors import PROBLEM_MEDIA_TYPE

_REF = "#/components/schemas/Problem"
_WRITE_METHODS = {"post", "put", "patch", "delete"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


class FieldError(BaseModel):
    field: str = Field(description="The input that is wrong, as a dotted path (`tags.team`).")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document: what went wrong and how to fix it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What is wrong and how to fix it, as a sentence.")
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid input: one entry per wrong field."
    )


# Groups whose noun is not the tag itself or the tag without its plural ending.
_GROUP_NOUNS: dict[str, tuple[str, ...]] = {
    "drift": ("drift_checks", "drift_check", "drift"),
    "aliases": ("aliases", "alias"),
    "analytics": ("analytics",),
    "audit": ("audit",),
    "meta": (),
    "admin": (),
}


def _without(words: list[str], noun: str) -> list[str]:
    """``words`` with the first run of ``noun``'s words taken out."""
    parts = noun.split("_")
    for start in range(len(words) - len(parts) + 1):
        if words[start : start + len(parts)] == parts:
            return words[:start] + words[start + len(parts) :]
    return words


def operation_id(route: APIRoute) -> str:
    """``<group>.<verb>``: the route's first tag, and its function's name less the group's noun."""
    group = route.tags[0] if route.tags else route.endpoint.__module__.split(".")[1]
    group = str(group)
    nouns = _GROUP_NOUNS.get(group, (group, group.removesuffix("s")))
    words = route.name.split("_")
    for noun in nouns:
        shorter = _without(words, noun)
        if shorter and shorter != words:
            words = shorter
            break
    return f"{group}.{'_'.join(words)}"


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": http.HTTPStatus(status).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers with a status the rules above cannot infer."""
    return {status: _problem_response(status) for status in statuses}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403}
    if parameters or body:
        statuses |= {400, 404, 422}
    if method in _WRITE_METHODS:
        statuses.add(409)
    if body:
        statuses |= {413, 415}
    return statuses


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    return any(
        media.get("schema", {}).get("$ref") == _FASTAPI_VALIDATION for media in content.values()
    )


def add_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Add the ``Problem`` component and each operation's error responses, in place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    definition = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in definition.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas["Problem"] = definition
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, operation)):
                current = responses.get(str(status))
                if current is None or _is_fastapi_validation(current):
                    responses[str(status)] = _problem_response(status)
    if "HTTPValidationError" in schemas and _FASTAPI_VALIDATION not in str(document["paths"]):
        # FastAPI's own validation shape is never sent: the handler renders a Problem instead.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document


def document_problems(app: FastAPI) -> None:
    """Post-process ``app.openapi()`` so that every document it returns lists its errors."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the document and rebuilds it when routes change; the edit is idempotent.
        return add_problem_responses(generate())

    app.openapi = openapi  # type: ignore[method-assign]

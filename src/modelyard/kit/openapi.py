"""Make the OpenAPI document state the errors that the API really returns.

Every error leaves the app as an ``application/problem+json`` body (:mod:`modelyard.kit.errors`),
but FastAPI documents only its own 422 shape, under ``application/json``. :func:`document_problems`
post-processes the generated document once: it adds a ``Problem`` component and gives each
operation the error statuses that it can answer with, derived from what the operation declares:

- security scheme: 401 (no or bad credentials) and 403 (role too low);
- any parameter or body: 400 (a value the service refuses), 404 (no object of the name or
  id given in the path, query or body) and 422 (invalid input);
- a write method: 409 (conflicts with what is stored);
- a request body: 413 (too large) and 415 (media type not accepted);
- an event stream: 429 (too many streams open).

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
from modelyard.kit.problem_types import PROBLEM_TYPES, type_uri

_REF = "#/components/schemas/Problem"
_WRITE_METHODS = {"post", "put", "patch", "delete"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


class FieldError(BaseModel):
    field: str = Field(description="The input that is wrong, as a dotted path (`tags.team`).")
    message: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """An RFC 9457 problem document: what went wrong and how to fix it."""

    type: str = Field(
        default="/problems#bad-request",
        description="A URI naming the error, `/problems#<slug>`: the table at /problems says "
        "what each means.",
        examples=["/problems#not-found"],
    )
    title: str = Field(description="A short summary of the type.", examples=["Not found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What is wrong and how to fix it, as a sentence.",
        examples=["No model named 'sales'; list models with GET /api/models."],
    )
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
    kind = next((p for p in PROBLEM_TYPES if p.status == status), None)
    example = {
        "type": type_uri(kind.slug if kind else "http-error"),
        "title": kind.title if kind else http.HTTPStatus(status).phrase,
        "status": status,
        "detail": kind.meaning if kind else http.HTTPStatus(status).description,
    }
    return {
        "description": http.HTTPStatus(status).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF}, "example": example}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers with a status the rules above cannot infer."""
    return {status: _problem_response(status) for status in statuses}


def event_stream(
    description: str, event: str, data: dict[str, Any]
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a Server-Sent Events endpoint: the stream is text, and each message
    (``itemSchema``, as OpenAPI 3.2 describes event streams) has ``event``, ``id`` and a
    ``data`` field holding JSON of the schema ``data``."""
    item = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string", "const": event},
            "id": {"type": "string", "description": "Send it back as Last-Event-ID to resume."},
            "retry": {"type": "integer", "minimum": 0},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }
    return {
        200: {
            "description": description,
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": f"`event: {event}` messages whose `data` is JSON "
                        "(see itemSchema), and `:` comment lines that keep the stream open.",
                    },
                    "itemSchema": item,
                }
            },
        }
    }


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
    if "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {}):
        statuses.add(429)  # past the per-user or per-process stream limit
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


def hoist_definitions(document: dict[str, Any]) -> dict[str, Any]:
    """Move ``$defs`` of schemas written by hand (``openapi_extra`` bodies from
    ``model_json_schema``) into ``components``, where their ``$ref`` points."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for name, schema in node.pop("$defs", {}).items():
                schemas.setdefault(name, schema)
                visit(schema)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document.get("paths", {}))
    return document


def add_summaries(document: dict[str, Any]) -> dict[str, Any]:
    """Each operation's summary is its handler's docstring's first line (an imperative
    sentence), not a title made from the function's name."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("description"):
                first = operation["description"].strip().split("\n\n")[0]
                operation["summary"] = " ".join(first.split()).rstrip(".")
    return document


# Path and query parameters that recur, with a value that reads like real use.
PARAMETER_EXAMPLES: dict[str, Any] = {
    "name": "sales",
    "version": "3",
    "alias": "production",
    "key": "team",
    "model": "sales@production",
    "dataset": "sales-2026-11",
    "target": "rocksdb-bench",
    "deployment": "smax-production",
    "upload_id": "6f1c0f0e8e6a4a9f9b3d2c1b0a998877",
    "kind": "html",
    "fmt": "html",
    "metric": "mape",
    "q": "sales",
    "cursor": "WzQyXQ",
    "ids": "4,7",
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"].get(name, {})
    return schema


_FORMATS = {
    "date-time": "2026-11-22T05:43:00Z",
    "date": "2026-11-22",
    "binary": None,
    "uri": "https://hooks.example.com/modelyard",
}


# String fields that recur, by name, when their schema has no example of its own.
FIELD_EXAMPLES: dict[str, str] = {
    **{k: v for k, v in PARAMETER_EXAMPLES.items() if isinstance(v, str)},
    "url": "https://hooks.example.com/modelyard",
    "password": "correct-horse-battery",
    "current_password": "correct-horse-battery",
    "new_password": "staple-battery-horse",
    "description": "Units sold per region, weekly.",
    "filename": "sales-2026-11.csv.gz",
    "reference": "sales-2026-10",
    "current": "sales-2026-11",
    "flavor": "formula",
    "source": "git:3f2a9c1",
    "parent": "sales/2",
    "user": "alice",
    "message": "must be a number",
    "field": "parameters.coef.x",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "token": "my_8dJ3kq0Vb9x2mXnYpL4sQeRt7wUzA1cH",
}
TEXT_EXAMPLES = {
    "text/event-stream": 'event: job\nid: 1795310000000000\ndata: {"id": 42, "status": "running"}\n\n',
    "text/plain": "# TYPE modelyard_http_requests_total counter\n"
    'modelyard_http_requests_total{method="GET",status="200"} 1024\n',
}


def example_of(
    document: dict[str, Any], schema: dict[str, Any], depth: int = 0, name: str = ""
) -> Any:
    """A value of ``schema``: its own example, else one made of its fields' examples,
    defaults and first allowed values (``name``: the field's, for a string without one)."""
    schema = _resolve(document, schema)
    for key in ("examples",):
        if schema.get(key):
            return schema[key][0]
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if "default" in schema and schema["default"] not in (None, {}, []):
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(document, o).get("type") != "null"]
        if options:
            if key == "allOf" and len(options) > 1:
                merged: dict[str, Any] = {}
                for option in options:
                    value = example_of(document, option, depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return example_of(document, options[0], depth + 1, name)
    kind = schema.get("type")
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        required = set(schema.get("required", []))
        result = {}
        for field_name, field in schema.get("properties", {}).items():
            resolved = _resolve(document, field)
            if field_name in required or "examples" in resolved or "default" in resolved:
                result[field_name] = example_of(document, field, depth + 1, field_name)
        return result
    if kind == "array":
        item = example_of(document, schema.get("items", {}), depth + 1, name)
        return [] if item is None else [item]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 0.0)) or 1.5
    if kind == "boolean":
        return True
    if kind == "string":
        text = FIELD_EXAMPLES.get(name) or FIELD_EXAMPLES.get(str(schema.get("title", "")).lower())
        text = text or "sales"
        return text.ljust(int(schema.get("minLength", 0)), "-")
    return None


def add_examples(document: dict[str, Any]) -> dict[str, Any]:
    """An example for each body and answer (JSON, event streams, text), and each parameter
    that lacks one."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if "example" in parameter or "examples" in parameter or "examples" in schema:
                    continue
                if parameter["name"] in PARAMETER_EXAMPLES and parameter["in"] in ("path", "query"):
                    value = PARAMETER_EXAMPLES[parameter["name"]]
                    if _resolve(document, schema).get("type") == "integer":
                        value = 3
                    parameter["example"] = value
                elif parameter["in"] == "path":
                    parameter["example"] = example_of(document, schema)
            bodies = [operation.get("requestBody", {})]
            bodies += list(operation.get("responses", {}).values())
            for body in bodies:
                for media_type, media in body.get("content", {}).items():
                    if "example" in media or "examples" in media:
                        continue
                    if media_type in TEXT_EXAMPLES:
                        media["example"] = TEXT_EXAMPLES[media_type]
                        continue
                    if "json" not in media_type or "schema" not in media:
                        continue
                    value = example_of(document, media["schema"])
                    if value is not None:
                        media["example"] = value
    return document


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    """Every step above, in order; each is idempotent."""
    for step in (hoist_definitions, add_problem_responses, add_summaries, add_examples):
        document = step(document)
    return document


def document_problems(app: FastAPI) -> None:
    """Post-process ``app.openapi()``: errors, hoisted definitions, summaries, examples."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the document and rebuilds it when routes change; the edit is idempotent.
        return complete_document(generate())

    app.openapi = openapi  # type: ignore[method-assign]

"""Errors with a status code, rendered once as ``application/problem+json`` (RFC 9457).

Raise a subclass of :class:`ProblemError` anywhere (service, dependency, task); the handlers
installed by :func:`install_handlers` turn it, FastAPI's validation errors and Starlette's
HTTP errors into the same shape: ``type``, ``title``, ``status``, ``detail`` and, for
validation, ``errors`` with the field of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_MEDIA_TYPE = "application/problem+json"
_STATUSES = {status.value for status in HTTPStatus}


class ProblemError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class BadRequest(ProblemError):
    status_code = 400
    title = "Bad request"


class Unauthorized(ProblemError):
    status_code = 401
    title = "Not authenticated"


class Forbidden(ProblemError):
    status_code = 403
    title = "Forbidden"


class NotFound(ProblemError):
    status_code = 404
    title = "Not found"


class Conflict(ProblemError):
    status_code = 409
    title = "Conflict"


class PayloadTooLarge(ProblemError):
    status_code = 413
    title = "Payload too large"


class UnsupportedMediaType(ProblemError):
    status_code = 415
    title = "Unsupported media type"


class Unprocessable(ProblemError):
    status_code = 422
    title = "Unprocessable content"


class TooManyRequests(ProblemError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def problem_response(
    status: int,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    # A detail may quote the request (a name, a path); nosniff keeps a browser from ever
    # rendering it as HTML.
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={**(headers or {}), "X-Content-Type-Options": "nosniff"},
    )


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie", "form")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem_response(exc.status_code, exc.title, exc.detail, headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field_name(err.get("loc", ())), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(
            422, "Invalid request", f"The request is not valid: {summary}.", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such endpoint; see /docs for the API."
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"This endpoint accepts {', '.join(allowed)}; see /docs for the API."
        title = HTTPStatus(exc.status_code).phrase if exc.status_code in _STATUSES else "Error"
        return problem_response(exc.status_code, title, detail, headers)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> Response:
        # PostgreSQL refuses text with NUL characters and values past a column's bounds that
        # SQLite stores; either way the request carried the value, so it is a 400, not a 500.
        return problem_response(
            400,
            "Bad request",
            "A value in the request cannot be stored: it is too long, out of range, or "
            "contains a NUL character (\\u0000).",
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method served at the path template that this URL matched first.

    Starlette answers 405 from the first route whose path matches, and that route knows only
    its own method; FastAPI makes one route per method, so its ``Allow`` header would be short.
    Routes of other templates that also match the URL (``/users/{name}`` for ``/users/me``)
    are left out: ``Allow`` describes the resource the path names, as the OpenAPI document does.
    """
    template: str | None = None
    methods: set[str] = set()
    # FastAPI keeps included routers as branches; this walks them as the router does.
    for route in iter_route_contexts(request.app.router.routes):
        route_methods = route.methods
        if not route_methods or route.matches(request.scope)[0] is Match.NONE:
            continue
        if template is None:
            template = route.path_format
        if route.path_format == template:
            methods |= set(route_methods)
    return sorted(methods)

"""Errors with a status code, rendered once as ``application/problem+json`` (RFC 9457).

Raise a subclass of :class:`ProblemError` anywhere (service, dependency, task); the handlers
installed by :func:`install_handlers` turn it, FastAPI's validation errors and Starlette's
HTTP errors into the same shape: ``type``, ``title``, ``status``, ``detail`` and, for
validation, ``errors`` with the field of each.

Faults are never the client's doing, and they are recognised here, once, wherever they come
from: a full disk or an exhausted quota (an ``OSError`` with ``ENOSPC``/``EDQUOT``, pyarrow's
or SQLite's wording of it) is a 507 that names the file system (:func:`disk_full`); a database
that is unreachable, restarting or locked is a 503 with ``Retry-After``. Code that writes a
file removes its partial file itself before the error leaves it; code that catches
``OSError`` broadly (a reader turning I/O errors into "corrupt file") lets a disk-full error
through with :func:`reraise_if_disk_full`.
"""

from __future__ import annotations

import errno
import inspect
import logging
import os
import tempfile
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from modelyard.kit.extras import MissingExtra
from modelyard.kit.problem_types import type_uri

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Starlette's own HTTP errors (a static file not found, a method not allowed) by status.
_HTTP_TYPES = {
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    503: "service-unavailable",
}
_STATUSES = {status.value for status in HTTPStatus}
DATABASE_RETRY_AFTER_SECONDS = 5

logger = logging.getLogger(__name__)


class ProblemError(Exception):
    status_code = 400
    title = "Bad request"
    type = "bad-request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class BadRequest(ProblemError):
    status_code = 400
    title = "Bad request"
    type = "bad-request"


class Unauthorized(ProblemError):
    status_code = 401
    title = "Not authenticated"
    type = "not-authenticated"


class Forbidden(ProblemError):
    status_code = 403
    title = "Forbidden"
    type = "forbidden"


class NotFound(ProblemError):
    status_code = 404
    title = "Not found"
    type = "not-found"


class Conflict(ProblemError):
    status_code = 409
    title = "Conflict"
    type = "conflict"


class PayloadTooLarge(ProblemError):
    status_code = 413
    title = "Payload too large"
    type = "payload-too-large"


class UnsupportedMediaType(ProblemError):
    status_code = 415
    title = "Unsupported media type"
    type = "unsupported-media-type"


class Unprocessable(ProblemError):
    status_code = 422
    title = "Unprocessable content"
    type = "unprocessable"


class TooManyRequests(ProblemError):
    status_code = 429
    title = "Too many requests"
    type = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(ProblemError):
    status_code = 503
    title = "Service unavailable"
    type = "service-unavailable"

    def __init__(self, detail: str, *, retry_after: int, extra: dict[str, Any] | None = None):
        super().__init__(detail, extra=extra)
        self.retry_after = retry_after


class InsufficientStorage(ProblemError):
    status_code = 507
    title = "Insufficient storage"
    type = "insufficient-storage"


# -- faults ---------------------------------------------------------------------------------

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# pyarrow and SQLite report a full disk in words (pyarrow's OSError carries no errno).
_DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded", "database or disk is full")


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says that a disk or a quota is full."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(current, OSError | DBAPIError) or type(current).__module__.startswith(
            ("pyarrow", "sqlite3")
        ):
            text = str(current).lower()
            if any(words in text for words in _DISK_FULL_WORDS):
                return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def reraise_if_disk_full(exc: BaseException) -> None:
    """In an ``except OSError`` that would blame the file: a full disk is not the file's fault."""
    if disk_full(exc):
        raise exc


def note_path(exc: BaseException, path: Path | str) -> None:
    """Record the file a failed write was for, when the error does not say (a write to an open
    file, pyarrow's errors): the 507 then names the right disk."""
    if isinstance(exc, OSError) and not exc.filename:
        exc.filename = str(path)


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds ``path`` (or would, once created)."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def _failed_path(exc: BaseException) -> Path | None:
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            break
        filename = getattr(current, "filename", None)
        if isinstance(filename, str | os.PathLike) and str(filename):
            return Path(filename)
        current = current.__cause__ or current.__context__
    return None


def _fullest(candidates: list[Path]) -> Path | None:
    """The candidate whose file system has the least room left (a write that named no file:
    the data directory, or the temporary directory a form upload spools to)."""
    best: tuple[int, Path] | None = None
    for path in candidates:
        try:
            stats = os.statvfs(mount_point(path))
        except OSError:
            continue
        free = stats.f_bavail * stats.f_frsize
        if best is None or free < best[0]:
            best = (free, path)
    return best[1] if best is not None else None


def disk_full_problem(exc: BaseException, data_dirs: list[Path]) -> InsufficientStorage:
    """The 507 for a full disk: which file system, and that nothing was kept."""
    path = _failed_path(exc) or _fullest([*data_dirs, Path(tempfile.gettempdir())])
    where = ""
    if path is not None:
        mount = mount_point(path)
        where = (
            f" holding {path}"
            if str(mount) == str(path)
            else (f" holding {path} (the file system mounted at {mount})")
        )
    return InsufficientStorage(
        f"The server's disk{where} is full or over its quota, so nothing of this request "
        "was kept; free space there (or raise the quota) and send it again.",
        extra={"disk": str(mount_point(path)) if path is not None else None},
    )


def database_unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """A 503 when ``exc`` says the database cannot be reached or is busy, else ``None``."""
    if isinstance(exc, PoolTimeout):
        return ServiceUnavailable(
            "The server has no free database connection; try again in a moment.",
            retry_after=1,
        )
    if isinstance(exc, DisconnectionError):
        return ServiceUnavailable(
            "The database connection was lost; try again in a moment.",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    module = type(exc.orig).__module__ if exc.orig is not None else ""
    if module.startswith("sqlite3"):
        if "locked" in text or "busy" in text:
            return ServiceUnavailable(
                "The database is busy with another write; try again in a moment.", retry_after=1
            )
        if "unable to open" in text or "disk i/o error" in text:
            return ServiceUnavailable(
                "The server cannot open its database file; try again later.",
                retry_after=DATABASE_RETRY_AFTER_SECONDS,
            )
        return None
    interface_error = type(exc).__name__ in ("OperationalError", "InterfaceError")
    if exc.connection_invalidated or interface_error:
        return ServiceUnavailable(
            "The database is unreachable or restarting; try again in a moment.",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )
    return None


# An HTTPException (Starlette's, or the body limit's) gets the title a ProblemError of its
# status has, so a 413 reads the same whichever raised it.
_TITLES = {
    cls.status_code: cls.title
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
        TooManyRequests,
        ServiceUnavailable,
        InsufficientStorage,
    )
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    type: str = "http-error",
    **extra: Any,
) -> Response:
    """The problem document; ``type`` is a slug of :mod:`modelyard.kit.problem_types`."""
    body = {"type": type_uri(type), "title": title, "status": status, "detail": detail, **extra}
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
        if isinstance(exc, TooManyRequests | ServiceUnavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem_response(
            exc.status_code, exc.title, exc.detail, headers, type=exc.type, **exc.extra
        )

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Response:
        if not disk_full(exc):
            raise exc
        return await _fault(request, exc)

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        if isinstance(exc, DataError):
            return await _data(request, exc)
        return await _fault(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> Response:
        return await _fault(request, exc)

    @app.exception_handler(DisconnectionError)
    async def _disconnected(request: Request, exc: DisconnectionError) -> Response:
        return await _fault(request, exc)

    async def _fault(request: Request, exc: BaseException) -> Response:
        """A full disk (507) or an unavailable database (503); anything else stays a 500."""
        problem: ProblemError | None = None
        if disk_full(exc):
            settings = getattr(request.app.state, "settings", None)
            # Where the app writes: its home and any data directory the settings name.
            data_dirs = [
                path
                for name in ("home", "scratch_dir", "cache_dir")
                if isinstance(path := getattr(settings, name, None), Path)
            ]
            problem = disk_full_problem(exc, data_dirs)
        else:
            problem = database_unavailable(exc)
        if problem is None:
            raise exc
        logger.warning("%s %s: %s (%s)", request.method, request.url.path, problem.title, exc)
        # The page handlers (web/_errors.py) wrap ProblemError: raising lets them render HTML.
        handler = request.app.exception_handlers[ProblemError]
        result = handler(request, problem)
        response: Response = await result if inspect.isawaitable(result) else result
        return response

    @app.exception_handler(MissingExtra)
    async def _missing_extra(_: Request, exc: MissingExtra) -> Response:
        return problem_response(
            501, "Not installed", exc.detail, type="missing-extra", extra=exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field_name(err.get("loc", ())), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(
            422,
            "Invalid request",
            f"The request is not valid: {summary}.",
            type="invalid-request",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = exc.headers
        kind = _HTTP_TYPES.get(exc.status_code, "http-error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such endpoint; see /docs for the API."
            kind = "no-such-endpoint"
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"This endpoint accepts {', '.join(allowed)}; see /docs for the API."
        title = _TITLES.get(exc.status_code) or (
            HTTPStatus(exc.status_code).phrase if exc.status_code in _STATUSES else "Error"
        )
        return problem_response(exc.status_code, title, detail, headers, type=kind)

    async def _data(_: Request, exc: DataError) -> Response:
        # PostgreSQL refuses text with NUL characters and values past a column's bounds that
        # SQLite stores; either way the request carried the value, so it is a 400, not a 500.
        return problem_response(
            400,
            "Bad request",
            "A value in the request cannot be stored: it is too long, out of range, or "
            "contains a NUL character (\\u0000).",
            type="unstorable-value",
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

"""Errors on pages: a login redirect, or HTML, never problem+json.

The app-wide handlers of ``kit.errors`` stay in charge of ``/api``; for page paths they are
wrapped so that a service's ``NotFound`` on ``/models/x`` is a 404 page, and an error after
an htmx form is a message in the page's ``#flash`` region rather than a replaced panel.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from modelyard.auth.schemas import Principal
from modelyard.kit.errors import ProblemError
from modelyard.web._render import SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import LoginRequired, PageError, login_url

PAGE_PREFIXES = (
    "/login",
    "/logout",
    "/models",
    "/jobs",
    "/evaluations",
    "/deployments",
    "/datasets",
    "/reports",
    "/leaderboard",
    "/drift",
)

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def page_error_response(request: Request, status_code: int, title: str, detail: str) -> Response:
    user: Principal | None = getattr(request.state, "principal", None)
    if is_htmx(request):
        return render(
            request,
            "_flash.html",
            {"level": "error", "message": detail},
            user=user,
            status_code=status_code,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return render(
        request,
        "error.html",
        {"status_code": status_code, "title": title, "detail": detail},
        user=user,
        status_code=status_code,
    )


def _login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = login_url(exc.next_url)
    if request.headers.get("hx-request") == "true":
        # htmx follows HX-Redirect with a full page load; a 303 would be swapped in place.
        return Response(status_code=204, headers={"HX-Redirect": target, **SECURITY_HEADERS})
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        field = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{field or 'request'}: {err.get('msg', 'invalid')}")
    return "The request is not valid: " + "; ".join(parts) + "."


async def _delegate(handler: Handler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


def install_page_errors(app: FastAPI) -> None:
    problem: Handler = app.exception_handlers[ProblemError]
    validation: Handler = app.exception_handlers[RequestValidationError]
    http: Handler = app.exception_handlers[StarletteHTTPException]

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return _login_redirect(request, exc)

    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return page_error_response(request, exc.status_code, exc.title, exc.detail)

    async def on_problem(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(problem, request, exc)
        assert isinstance(exc, ProblemError)
        return page_error_response(request, exc.status_code, exc.title, exc.detail)

    async def on_validation(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(validation, request, exc)
        assert isinstance(exc, RequestValidationError)
        return page_error_response(request, 422, "Invalid request", _validation_detail(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await _delegate(http, request, exc)
        assert isinstance(exc, StarletteHTTPException)
        detail = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return page_error_response(request, exc.status_code, str(exc.detail), detail)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)

"""Login and logout pages: a password form that starts the same browser session as
``POST /api/auth/login`` (an ``HttpOnly``, ``SameSite=Lax`` cookie)."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from modelyard.auth import service as auth_service
from modelyard.kit.deps import AppSettings, DbSession
from modelyard.kit.errors import TooManyRequests, Unauthorized
from modelyard.kit.security import client_address
from modelyard.web._render import SECURITY_HEADERS, render
from modelyard.web._session import (
    LOGIN_CSRF_COOKIE,
    FormViewer,
    LoginRequired,
    PageError,
    new_login_csrf,
    page_principal,
    safe_next,
    same_origin,
    session_secret,
)

router = APIRouter()


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.get("/")
def home() -> Response:
    """Open the models page."""
    return _redirect("/models")


def _login_form(
    request: Request, *, next_url: str, name: str = "", error: str = "", status_code: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = render(
        request,
        "login.html",
        {"next": next_url, "name": name, "error": error, "login_csrf": token},
        status_code=status_code,
    )
    settings = request.app.state.settings
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=settings.auth.cookie_secure or request.url.scheme == "https",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """Show the login form (or go straight on when already signed in)."""
    target = safe_next(next)
    if session_secret(request):
        try:
            page_principal(request)
            return _redirect(target)
        except LoginRequired:
            pass
    return _login_form(request, next_url=target)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/models",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the password, start a session and go on to the page asked for."""
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if (
        not same_origin(request)
        or not expected
        or not hmac.compare_digest(expected.encode(), csrf_token.encode())
    ):
        return _login_form(
            request,
            next_url=target,
            name=name,
            error="The login form expired; please try again.",
            status_code=403,
        )
    address = client_address(
        request.client.host if request.client else "",
        request.headers.get("x-forwarded-for"),
        settings.auth.trusted_proxies,
    )
    try:
        user = auth_service.log_in(session, settings.auth, name, password, address)
    except TooManyRequests as exc:
        response = _login_form(
            request, next_url=target, name=name, error=exc.detail, status_code=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthorized as exc:
        return _login_form(request, next_url=target, name=name, error=exc.detail, status_code=401)
    lifetime = dt.timedelta(hours=settings.auth.session_hours)
    created = auth_service.create_token(
        session, user, lifetime=lifetime, kind="session", actor=user.name
    )
    response = _redirect(target)
    response.set_cookie(
        settings.auth.cookie_name,
        created.token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.auth.cookie_secure or request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, _: FormViewer, session: DbSession, settings: AppSettings) -> Response:
    """End the browser session."""
    secret = session_secret(request)
    if not secret:  # pragma: no cover - FormViewer already required one
        raise PageError(400, "Not signed in", "There is no session to end.")
    auth_service.end_session(session, secret)
    response = _redirect("/login")
    response.delete_cookie(
        settings.auth.cookie_name,
        httponly=True,
        samesite="lax",
        secure=settings.auth.cookie_secure or request.url.scheme == "https",
    )
    return response

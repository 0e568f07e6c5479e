"""Who is looking at a page, and whether a form that changes state really came from our pages.

A page reads the browser session cookie that ``POST /login`` sets (the same ``kind='session'``
token as ``POST /api/auth/login``) and resolves it through the auth dependency's lookup. A
missing or dead session raises :class:`LoginRequired`, which the web exception handler turns
into a redirect to ``/login?next=...``.

CSRF: the session cookie is ``SameSite=Lax``, which keeps it off cross-site POSTs in current
browsers but not in every browser or through every same-site subdomain. So each state-changing
form carries a token that only our own pages can know, and the request's ``Origin`` (or else
``Referer``) must be this server's host when the browser sends one:

* signed in: the token is ``sha256("modelyard-csrf:" + session secret)``; the secret is an
  ``HttpOnly`` cookie, so a page on another origin can neither read nor compute it, and the
  token dies with the session;
* the login form, before any session: a random double-submit cookie scoped to ``/login``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.auth.deps import authenticate_request
from modelyard.auth.schemas import Principal, Role
from modelyard.kit.errors import Unauthorized

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_CSRF_COOKIE = "modelyard_login_csrf"


class LoginRequired(Exception):
    """No live session: send the browser to the login page, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageError(Exception):
    """An error shown as an HTML page (or an htmx fragment), never as problem+json."""

    def __init__(self, status_code: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.title = title
        self.detail = detail


def cookie_name(request: Request) -> str:
    name: str = request.app.state.settings.auth.cookie_name
    return name


def session_secret(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request)) or None


def csrf_token_for(secret: str) -> str:
    return hashlib.sha256(b"modelyard-csrf:" + secret.encode()).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def safe_next(target: str | None) -> str:
    """A local path to return to after login; anything else (another host, ``//x``) is ``/``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/models"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\\"):
        return "/models"
    if parts.path in ("/login", "/logout"):
        return "/models"
    return target


def _requested_path(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def page_principal(request: Request) -> Principal:
    """The signed-in user of a page request, or :class:`LoginRequired`."""
    secret = session_secret(request)
    if not secret:
        raise LoginRequired(_requested_path(request))
    try:
        return authenticate_request(request, None, secret)
    except Unauthorized as exc:
        raise LoginRequired(_requested_path(request)) from exc


def same_origin(request: Request) -> bool:
    """False when the browser names another origin; True when it names ours or none."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc == host
    referer = request.headers.get("referer")
    if referer is not None:
        return urlsplit(referer).netloc == host
    return True


async def _submitted_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        if isinstance(value, str):
            return value
    return ""


async def check_csrf(request: Request, expected: str) -> None:
    if not same_origin(request):
        raise PageError(
            403, "Forbidden", "This form was sent from another site; reload the page and retry."
        )
    submitted = await _submitted_token(request)
    if not submitted or not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise PageError(
            403,
            "Forbidden",
            "The form's security token is missing or stale; reload the page and try again.",
        )


async def _form_principal(request: Request) -> Principal:
    principal = await run_in_threadpool(page_principal, request)
    await check_csrf(request, csrf_token_for(session_secret(request) or ""))
    return principal


def _require(role: Role):  # type: ignore[no-untyped-def]
    async def check(principal: Annotated[Principal, Depends(_form_principal)]) -> Principal:
        if not principal.can(role):
            raise PageError(
                403,
                "Forbidden",
                f"This needs the {role.value} role; you are {principal.role.value}.",
            )
        return principal

    return check


PageUser = Annotated[Principal, Depends(page_principal)]
"""The signed-in user of a page that only reads."""

FormViewer = Annotated[Principal, Depends(_require(Role.viewer))]
"""A signed-in user whose form passed the CSRF check."""

FormEditor = Annotated[Principal, Depends(_require(Role.editor))]
FormAdmin = Annotated[Principal, Depends(_require(Role.admin))]

"""Authentication and role dependencies: ``Viewer``, ``Editor`` and ``Admin`` aliases.

A request authenticates with ``Authorization: Bearer <token>`` or, from the web UI, the
session cookie. Every endpoint declares the least role it needs through one of the aliases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from modelyard.auth.schemas import Principal, Role
from modelyard.auth.service import cached_principal, resolve_secret
from modelyard.kit import streams
from modelyard.kit.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API token from `modelyard token create`.")
_cookie = APIKeyCookie(name="modelyard_session", auto_error=False, description="Web UI session.")


def authenticate_request(request: Request, bearer: str | None, cookie: str | None) -> Principal:
    """The request's principal (blocking on a database lookup when it is not cached)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    secret, kind = _credentials(bearer, cookie)
    principal = cached_principal(secret, kind)
    if principal is None:
        with request.app.state.db.engine.begin() as conn:  # commits the last-used time
            principal = resolve_secret(conn, secret, kind=kind)
    request.state.principal = principal
    return principal


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request authenticated only by the session cookie unless the
    browser says it comes from this site (``Origin``, else ``Referer``, else htmx's
    ``HX-Request``). SameSite=Lax alone still lets a top-level cross-site form POST through
    in some browsers; bearer tokens are never sent by a browser on its own, so they need no check.
    """
    if request.method in SAFE_METHODS:
        return
    host = request.headers.get("host", "")
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin:
        if urlsplit(origin).netloc == host:
            return
        raise Forbidden(
            "Cross-site request refused: the Origin of this request is not this server."
        )
    if request.headers.get("hx-request") == "true" or request.headers.get("x-requested-with"):
        return
    raise Forbidden(
        "A request authenticated by the session cookie must come from this site's pages "
        "(send Origin, or use a Bearer token for scripts)."
    )


def _credentials(bearer: str | None, cookie: str | None) -> tuple[str, str]:
    if bearer:
        return bearer, "api"
    if cookie:
        return cookie, "session"
    raise Unauthorized("No credentials; send `Authorization: Bearer <token>` or log in at /login.")


# The dependencies are coroutines: a cached credential costs no thread hop, and only a lookup
# that misses the cache goes to the thread pool.
async def _principal(
    request: Request, bearer: HTTPAuthorizationCredentials | None, cookie: str | None
) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = bearer.credentials if bearer else None
    if not token and cookie:
        check_same_origin(request)
    principal = cached_principal(*_credentials(token, cookie))
    if principal is None:
        principal = await _look_up(request, token, cookie)
    request.state.principal = principal
    return principal


_lookups: dict[tuple[asyncio.AbstractEventLoop, str, str], asyncio.Future[Principal | None]] = {}


async def _look_up(request: Request, token: str | None, cookie: str | None) -> Principal:
    """The database lookup of a credential, shared by concurrent requests that carry it: when
    a busy client's cached entry expires, one query refreshes it instead of one per request."""
    loop = asyncio.get_running_loop()
    key = (loop, *_credentials(token, cookie))
    pending = _lookups.get(key)
    if pending is not None:
        shared = await asyncio.shield(pending)
        if shared is not None:
            return shared
    future: asyncio.Future[Principal | None] = loop.create_future()
    _lookups[key] = future
    try:
        principal = await run_in_threadpool(authenticate_request, request, token, cookie)
        future.set_result(principal)
        return principal
    finally:
        if not future.done():
            future.set_result(None)  # refused or failed: each waiter learns why for itself
        if _lookups.get(key) is future:
            del _lookups[key]


async def check_credentials(request: Request) -> Principal:
    """The request's principal, checked as the role dependencies check it (and kept for
    them): the body limit's question before it reads more than a few KB."""
    bearer = await _bearer(request)
    cookie = await _cookie(request)
    return await _principal(request, bearer, cookie)


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    # One level of dependencies, not two: FastAPI resolves each level on every request.
    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        cookie: Annotated[str | None, Depends(_cookie)],
    ) -> Principal:
        principal = await _principal(request, bearer, cookie)
        if not principal.can(role):
            raise Forbidden(
                f"This needs the {role.value} role; user '{principal.name}' is {principal.role.value}."
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Editor = Annotated[Principal, Depends(require(Role.editor))]
Admin = Annotated[Principal, Depends(require(Role.admin))]


async def _stream_slot(principal: Viewer, request: Request) -> AsyncIterator[Principal]:
    # A yield dependency ends after the response is sent: for a stream, when it ends.
    state = request.scope.setdefault("state", {})
    if state.get(streams.HELD):  # a stream read on behalf of one that holds the slot
        yield principal
        return
    limiter: streams.StreamLimiter = request.app.state.streams
    limiter.acquire(principal.name)
    state[streams.HELD] = True
    try:
        yield principal
    finally:
        limiter.release(principal.name)


StreamViewer = Annotated[Principal, Depends(_stream_slot)]
"""A viewer holding one of the process's event-stream slots until the stream ends (429
past the per-user or per-process limit, see :mod:`modelyard.kit.streams`)."""

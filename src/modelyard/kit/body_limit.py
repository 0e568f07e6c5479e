"""Request bodies bounded before they are read: one pure ASGI middleware for every route.

Every body is counted as it arrives (``Content-Length`` is checked before the first byte, a
chunked body byte by byte), and no request gets more read than it is allowed:

- ``server.max_anonymous_body_bytes`` (8 KiB) until its credentials are checked. Past that,
  a request without credentials is refused (401 where the route declares a security scheme,
  413 on the open ones such as login), and one whose token or session is not
  valid gets the 401 its credentials deserve: nobody reaches the large limits unauthenticated.
  The check is the role dependencies' own, done once, and its principal is kept for them.
- ``server.max_body_bytes`` (1 MiB) for every other route: JSON and forms;
- the limit an upload endpoint declares with :func:`large_body` (the storage limits for
  datasets and artifacts, ``server.max_push_bytes`` for pushed metrics); those endpoints read
  their bodies as streams, chunk by chunk, after their own authentication.

Nothing is buffered here and responses pass untouched, so uploads and event streams keep
streaming. A refusal is raised from ``receive`` as an HTTP exception, which FastAPI's body
reader lets through and the app's handlers render as a problem (``Connection: close``: the
rest of the body is not read). Starlette's ``RequestBodyLimitMiddleware`` does the counting
but knows neither credentials nor limits that come from settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.security.base import SecurityBase
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config import Settings
from modelyard.kit.errors import ProblemError
from modelyard.kit.refs import ascii_int

F = TypeVar("F", bound=Callable[..., Any])
LimitOf = Callable[[Settings], int]
Authenticate = Callable[[Request], Awaitable[object]]

_ATTRIBUTE = "__modelyard_body_limit__"
_CLOSE = {"Connection": "close"}


def large_body(limit: LimitOf, setting: str) -> Callable[[F], F]:
    """Let an endpoint's body reach ``limit(settings)`` bytes (its environment ``setting``).

    Put it under the route decorator. The endpoint must read its body as a stream."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, (limit, setting))
        return endpoint

    return mark


def size_text(count: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift} {unit}"
    return f"{count:,} bytes"


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers=_CLOSE)


async def read_json_body(request: Request) -> bytes:
    """The body of a JSON request to an upload endpoint (which may take files larger than
    any JSON): at most ``server.max_body_bytes``, like every other JSON body."""
    settings: Settings = request.app.state.settings
    limit = settings.server.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(
                f"A JSON body may be at most {size_text(limit)} (MODELYARD_SERVER__MAX_BODY_BYTES)."
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _has_credentials(headers: Headers, cookie_name: str) -> bool:
    if headers.get("authorization"):
        return True
    cookie = headers.get("cookie", "")
    return f"{cookie_name}=" in cookie


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, _CountedBody(scope, receive, self.authenticate), send)


class _CountedBody:
    """The ``receive`` an app gets: the same messages, counted against the allowance."""

    def __init__(self, scope: Scope, receive: Receive, authenticate: Authenticate) -> None:
        self.scope = scope
        self.inner = receive
        self.authenticate = authenticate
        self.settings: Settings = scope["app"].state.settings
        self.headers = Headers(scope=scope)
        self.allowed = self.settings.server.max_anonymous_body_bytes
        self.authenticated = False
        self.limit = self.allowed
        self.setting = "MODELYARD_SERVER__MAX_ANONYMOUS_BODY_BYTES"
        self.received = 0
        self.first = True

    async def __call__(self) -> Message:
        if self.first:
            self.first = False
            declared = self.headers.get("content-length")
            if declared is not None:
                length = ascii_int(declared.strip())
                if length is None:
                    raise StarletteHTTPException(
                        400, "The Content-Length header is not a number.", headers=_CLOSE
                    )
                if length > self.allowed:
                    await self._allow(length)
        message = await self.inner()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.allowed:
                await self._allow(self.received)
        return message

    async def _allow(self, needed: int) -> None:
        """Raise the allowance to the route's limit once the credentials are checked."""
        if not self.authenticated:
            anonymous = self.allowed
            if not _has_credentials(self.headers, self.settings.auth.cookie_name):
                if _needs_credentials(self._route()):
                    raise StarletteHTTPException(
                        401, "Not authenticated.", headers={"WWW-Authenticate": "Bearer", **_CLOSE}
                    )
                raise BodyTooLarge(
                    f"A request without credentials may send at most {size_text(anonymous)}; "
                    "send `Authorization: Bearer <token>` (or log in) to send more."
                )
            try:
                await self.authenticate(Request(self.scope))
            except ProblemError as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
                raise StarletteHTTPException(
                    exc.status_code, exc.detail, headers={**headers, **_CLOSE}
                ) from exc
            self.authenticated = True
            self.limit, self.setting = self._route_limit()
            self.allowed = max(anonymous, self.limit)
        if needed > self.allowed:
            raise BodyTooLarge(
                f"The request body is larger than this endpoint accepts: at most "
                f"{size_text(self.limit)} ({self.setting})."
            )

    def _route(self) -> RouteContext | None:
        for route in iter_route_contexts(self.scope["app"].router.routes):
            match, _ = route.matches(self.scope)
            if match is Match.FULL:
                return route
        return None

    def _route_limit(self) -> tuple[int, str]:
        route = self._route()
        declared = getattr(getattr(route, "endpoint", None), _ATTRIBUTE, None)
        if declared is not None:
            limit_of, setting = declared
            return int(limit_of(self.settings)), setting
        return self.settings.server.max_body_bytes, "MODELYARD_SERVER__MAX_BODY_BYTES"


def _needs_credentials(route: RouteContext | None) -> bool:
    """True when the route declares a security scheme (its OpenAPI ``security``): a request
    without credentials gets the 401 it would get anyway, not a 413 about its size."""
    root = getattr(route, "dependant", None)  # an included route's context has it too
    if not isinstance(root, Dependant):
        return False
    pending: list[Dependant] = [root]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, SecurityBase):
            return True
        pending.extend(dependant.dependencies)
    return False

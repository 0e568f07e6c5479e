"""Registry reads kept in the app's cache while the registry is unchanged.

The registry counts its own changes (:mod:`modelyard.registry._generation`: every write adds
one to a counter row in its transaction). That count is the registry's generation: a stored
response body is valid exactly as long as it has not moved. A read asks the database for it, so this holds across server processes and
for writes made by job workers and the CLI. A miss reads the generation before the data, so
what is stored under a generation is never older than it (at worst newer, which is fine).

The bodies live in the app's :class:`~modelyard.cache.Cache` (``app.state.cache``) under the
name ``registry.reads``, keyed by the generation, the path and the query string: each app
has its own (two apps in one process share nothing), with Redis the processes share theirs,
and concurrent misses of one key share one load. A body is what the endpoint's schema
serialises to (pydantic's JSON, as FastAPI would write it).

:class:`CachedReads` answers a repeated request before routing: an ASGI middleware that, for
a ``GET`` under ``/api/models`` whose bearer token is in the credential cache (so the caller
is a known, active user; every user may read the registry), sends the stored body of the
identical earlier request (same path and query string) at the current generation. Anything
else (a new query, a cookie session, an unknown token) goes on to FastAPI as usual.

``MODELYARD_CACHE__ENABLED=false`` turns both off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import pydantic_core
from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.auth.service import cached_principal
from modelyard.cache import Cache
from modelyard.kit.db import Database
from modelyard.registry._generation import generation

__all__ = ["NAME", "CachedReads", "cached_json"]

NAME = "registry.reads"
MAX_ROUTES = 512


def _key(generation: int, scope: Scope) -> str:
    return f"{generation}:{scope['path']}?{scope.get('query_string', b'').decode('latin-1')}"


class _Routes:
    """The route that served each stored request (request metrics are labelled by route)."""

    def __init__(self) -> None:
        self._routes: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, scope: Scope) -> None:
        with self._lock:
            self._routes[(scope["path"], scope.get("query_string", b""))] = scope.get("route")
            if len(self._routes) > MAX_ROUTES:
                self._routes.popitem(last=False)

    def get(self, scope: Scope) -> tuple[bool, Any]:
        key = (scope["path"], scope.get("query_string", b""))
        return key in self._routes, self._routes.get(key)


def _routes(state: Any) -> _Routes:
    routes: _Routes | None = getattr(state, "registry_routes", None)
    if routes is None:
        routes = state.registry_routes = _Routes()
    return routes


async def cached_json(
    request: Request,
    load: Callable[[Session], BaseModel | Sequence[BaseModel]],
    status_code: int = 200,
) -> Response:
    """The JSON response of ``load(session)`` (an output schema, serialised as FastAPI would),
    served from the cache while the registry is unchanged; errors are raised, not cached."""
    state = request.app.state
    database: Database = state.db
    cache: Cache = state.cache

    def compute() -> bytes:
        with database.session() as session:
            return pydantic_core.to_json(load(session))

    if not cache.enabled:
        return Response(
            await run_in_threadpool(compute), status_code, media_type="application/json"
        )
    key = _key(await generation(database), request.scope)
    body = await cache.get_or_compute(NAME, key, compute)
    _routes(state).put(request.scope)
    return Response(body, status_code, media_type="application/json")


class CachedReads:
    """Answers a registry ``GET`` from the cache before routing (see the module docstring)."""

    prefix = "/api/models"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(self.prefix)
        ):
            hit = await _exact_hit(scope)
            if hit is not None:
                body, route = hit
                scope["route"] = route  # request metrics are labelled by route
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return (token.strip() or None) if scheme.lower() == "bearer" else None
    return None


async def _exact_hit(scope: Scope) -> tuple[bytes, Any] | None:
    state = getattr(scope.get("app"), "state", None)
    cache: Cache | None = getattr(state, "cache", None)
    if state is None or cache is None or not cache.enabled:
        return None
    seen, route = _routes(state).get(scope)
    if not seen:
        return None
    token = _bearer_token(scope)
    if token is None or cached_principal(token, "api") is None:
        return None
    body = await cache.get(NAME, _key(await generation(state.db), scope))
    return None if body is None else (body, route)

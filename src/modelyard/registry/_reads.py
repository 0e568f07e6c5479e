"""Serialised registry reads, reused until the registry changes.

Every registry write appends to the audit log in its own transaction (and nothing deletes from
it), so the audit log's tail is a generation number for the registry: a cached response body
is valid exactly as long as the tail has not moved. A read asks the database for it and, on a
hit, answers with the stored bytes: no thread hop, no ORM, no serialisation. A miss reads the
generation first and then the data, so what is stored under a generation is never older than
it. This holds across server processes and for writes made by other processes (job workers,
the CLI), because the check goes to the database every time.

On SQLite one writer at a time allocates ids and commits, so ids commit in order and
``max(id)`` (read inline: an indexed lookup of microseconds) is the generation. On PostgreSQL
two transactions can commit their ids out of order, so the generation also counts the entries
among the last ``WINDOW`` ids, which moves when a late commit fills a gap; it is read in the
thread pool.

:class:`CachedReads` answers a repeated request before routing: an ASGI middleware that, for
a ``GET`` under ``/api/models`` whose bearer token is in the credential cache (so the caller
is a known, active user; every user may read the registry), sends the stored bytes of the
identical earlier request (same path and query string) at the current generation. Anything
else (a new query, a cookie session, an unknown token) goes on to FastAPI as usual.

``MODELYARD_CACHE__ENABLED=false`` turns both off.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pydantic_core
import sqlalchemy as sa
from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.auth.service import cached_principal
from modelyard.kit.db import Database
from modelyard.models import AuditEntry

MAX_ENTRIES = 512
WINDOW = 1000
Generation = tuple[int, int]

_SQLITE_GENERATION = "SELECT max(id) FROM audit_log"
_TAIL = sa.select(sa.func.max(AuditEntry.id)).scalar_subquery()
_GENERATION = sa.select(sa.func.max(AuditEntry.id), sa.func.count()).where(
    AuditEntry.id > _TAIL - WINDOW
)


class _Store:
    """Bodies for one database at one generation; a newer generation empties it.

    ``bodies`` is keyed by what the handler asked for; ``exact`` by the raw path and query
    string of the request that stored it, with the route that served it (for metrics)."""

    def __init__(self) -> None:
        self.generation: Generation = (-1, 0)
        self.bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self.exact: OrderedDict[tuple[str, bytes], tuple[bytes, Any]] = OrderedDict()
        self.flights: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Future[Any]] = {}
        self.lock = threading.Lock()

    def get_exact(
        self, generation: Generation, path: str, query: bytes
    ) -> tuple[bytes, Any] | None:
        if generation != self.generation:
            return None
        return self.exact.get((path, query))

    def get(self, generation: Generation, key: Hashable) -> bytes | None:
        if generation != self.generation:
            return None
        body = self.bodies.get(key)
        if body is not None:
            self.bodies.move_to_end(key)
        return body

    def put(
        self,
        generation: Generation,
        key: Hashable,
        body: bytes,
        exact: tuple[str, bytes] | None = None,
        route: Any = None,
    ) -> None:
        with self.lock:
            if generation < self.generation:
                return  # loaded before a newer write was seen: do not keep it
            if generation > self.generation:
                self.generation = generation
                self.bodies.clear()
                self.exact.clear()
            self.bodies[key] = body
            if len(self.bodies) > MAX_ENTRIES:
                self.bodies.popitem(last=False)
            if exact is not None:
                self.exact[exact] = (body, route)
                if len(self.exact) > MAX_ENTRIES:
                    self.exact.popitem(last=False)


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def _store(database: Database) -> _Store:
    store = _stores.get(database.url)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(database.url, _Store())
    return store


class _SqliteReaders(threading.local):
    connection: sqlite3.Connection | None = None


_readers: weakref.WeakKeyDictionary[Database, _SqliteReaders] = weakref.WeakKeyDictionary()


def _sqlite_generation(database: Database) -> Generation:
    """``max(id)`` on a connection of this thread's own, outside the pool: the event loop
    must not wait for a pooled connection that worker threads hold."""
    path = database.engine.url.database
    if not path or path == ":memory:":
        with database.engine.connect() as connection:
            return int(connection.exec_driver_sql(_SQLITE_GENERATION).scalar() or 0), 0
    readers = _readers.get(database)
    if readers is None:
        readers = _readers.setdefault(database, _SqliteReaders())
    if readers.connection is None:
        readers.connection = sqlite3.connect(path, check_same_thread=False)
    row = readers.connection.execute(_SQLITE_GENERATION).fetchone()
    return (int(row[0] or 0) if row else 0), 0


def _generation(session: Session, sqlite: bool) -> Generation:
    if sqlite:
        return int(session.scalar(sa.text(_SQLITE_GENERATION)) or 0), 0
    top, count = session.execute(_GENERATION).one()
    return int(top or 0), int(count)


def _server_generation(database: Database) -> Generation:
    with database.session() as session:
        return _generation(session, sqlite=False)


async def generation(database: Database) -> Generation:
    """The registry's generation now: it moves with every registry write, by any process
    (what a cache of anything read from the registry is keyed by)."""
    if database.is_sqlite:
        return _sqlite_generation(database)
    return await run_in_threadpool(_server_generation, database)


async def cached_json(
    request: Request,
    key: Hashable,
    load: Callable[[Session], BaseModel | Sequence[BaseModel]],
    status_code: int = 200,
) -> Response:
    """The JSON response of ``load(session)`` (an output schema, serialised as FastAPI would),
    served from the cache while the registry is unchanged. ``key`` names the request (path and
    query); errors are raised, not cached.

    Concurrent misses of one key share a single load (after a write, a burst of readers would
    otherwise each run it), as long as that load is at least as new as what the caller saw.
    """
    database: Database = request.app.state.db
    enabled = request.app.state.settings.cache.enabled
    store = _store(database)
    flight_key = (asyncio.get_running_loop(), key)
    if enabled:
        if database.is_sqlite:
            generation = _sqlite_generation(database)
        else:
            generation = await run_in_threadpool(_server_generation, database)
        cached = store.get(generation, key)
        if cached is not None:
            return Response(cached, status_code, media_type="application/json")
        flight = store.flights.get(flight_key)
        if flight is not None:
            shared = await asyncio.shield(flight)
            if shared is not None and shared[0] >= generation:
                return Response(shared[1], status_code, media_type="application/json")

    def miss() -> tuple[Generation, bytes]:
        with database.session() as session:
            loaded_at = _generation(session, database.is_sqlite)
            return loaded_at, pydantic_core.to_json(load(session))

    future: asyncio.Future[tuple[Generation, bytes] | None] = (
        asyncio.get_running_loop().create_future()
    )
    if enabled:
        store.flights[flight_key] = future
    try:
        loaded_at, body = await run_in_threadpool(miss)
        future.set_result((loaded_at, body))
    finally:
        if not future.done():
            future.set_result(None)  # waiters load for themselves
        if store.flights.get(flight_key) is future:
            del store.flights[flight_key]
    if enabled:
        exact = (request.scope["path"], request.scope.get("query_string", b""))
        store.put(loaded_at, key, body, exact, request.scope.get("route"))
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
    database: Database | None = getattr(state, "db", None)
    if state is None or database is None or not state.settings.cache.enabled:
        return None
    store = _stores.get(database.url)
    if store is None or (scope["path"], scope.get("query_string", b"")) not in store.exact:
        return None
    token = _bearer_token(scope)
    if token is None or cached_principal(token, "api") is None:
        return None
    if database.is_sqlite:
        generation = _sqlite_generation(database)
    else:
        generation = await run_in_threadpool(_server_generation, database)
    return store.get_exact(generation, scope["path"], scope.get("query_string", b""))

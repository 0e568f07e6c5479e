"""Typed ``Annotated`` dependency aliases shared by every domain's endpoints.

FastAPI runs a plain ``def`` dependency or endpoint in its thread pool: a thread hop each,
which costs more than the work of a cached read. Dependencies that only read ``app.state``
are coroutines; an endpoint whose unit of work touches the database can be a coroutine that
hands the whole unit to one thread with :func:`in_session`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelyard.config import Settings
from modelyard.kit.db import Database

T = TypeVar("T")


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    # scope="function" below: the commit runs before the response is sent, so a client
    # never sees success for a transaction that then fails to commit.
    database: Database = request.app.state.db
    with database.session() as session:
        yield session


async def in_session(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` with a session in the thread pool and commit it there: one thread hop for
    the whole unit of work (a ``DbSession`` endpoint takes three)."""
    database: Database = request.app.state.db

    def run() -> T:
        with database.session() as session:
            return work(session)

    return await run_in_threadpool(run)


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppDatabase = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]

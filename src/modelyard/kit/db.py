"""Engine, declarative base and the one place where transactions are committed.

Services ``flush()``; the request dependency (``kit.deps``) and the job wrapper commit through
:meth:`Database.session`, which rolls back on any exception so a failed request leaves nothing
half-written. Side effects of a change that others must only see once it is committed
(handing a job to the queue, dropping cached credentials, waking the live loop) are handed to
:func:`after_commit`, and run only if the transaction commits. What must be kept although the
change it describes is refused (the audit entry of a refused alias move) is handed to
:func:`after_rollback` and written in a transaction of its own once the refused one has
rolled back.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from modelyard.kit.time import utcnow

log = logging.getLogger("modelyard.db")

_AFTER_COMMIT = "modelyard.after_commit"
_AFTER_ROLLBACK = "modelyard.after_rollback"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CONNECT_TIMEOUT_SECONDS = 5

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=268435456",
    "PRAGMA temp_store=MEMORY",
)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create a sync engine; SQLite gets the measured per-connection pragmas."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
        )
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if sa.engine.make_url(url).get_backend_name() == "postgresql":
        # An unreachable server (a host that drops packets) fails a request in seconds with a
        # 503 problem rather than holding it for the system's TCP timeout of minutes.
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return sa.create_engine(
        url,
        echo=echo,
        pool_size=16,
        max_overflow=16,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once ``session``'s transaction has committed (never if it rolls back).

    Actions run in the order given, each in a ``try``: one that fails is logged and does not
    stop the others (what they do is already committed; their own recovery covers them)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, ()):
        try:
            action()
        except Exception:
            log.exception("an action after a commit failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def after_rollback(session: Session, work: Callable[[Session], None]) -> None:
    """Run ``work`` in a transaction of its own if ``session``'s transaction rolls back (and
    never if it commits): the record of a refusal outlives the refused change."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(work)


class Database:
    """Owns the engine and hands out sessions that commit once, at the end."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            self._run_after_rollback(session)
            raise
        finally:
            session.close()

    def _run_after_rollback(self, session: Session) -> None:
        pending: list[Callable[[Session], None]] = session.info.pop(_AFTER_ROLLBACK, [])
        for work in pending:
            try:
                with self.session() as own:
                    work(own)
            except Exception:  # the refusal itself is what the caller must see
                log.exception("a record kept after a rollback could not be written")

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = [
    "Base",
    "Database",
    "UTCDateTime",
    "after_commit",
    "after_rollback",
    "make_engine",
    "utcnow",
]

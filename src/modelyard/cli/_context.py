"""What the commands on this machine's database share: opening it, or saying why not.

These commands (``user``, ``token``, ``artifacts``, ``live``, ``smax``, ``db status``) work on
the database of ``MODELYARD_DATABASE_URL`` / ``MODELYARD_HOME`` directly, beside or instead of
a server. :func:`open_database` never creates one: a missing SQLite file, a server that
cannot be reached or a database without modelyard's tables is one sentence
(:class:`NoDatabase`, exit 6), not a traceback and not an empty ``./.modelyard/modelyard.db``.
Only ``modelyard db upgrade`` and ``modelyard demo`` create a database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.cli._errors import UNREACHABLE, CommandFailed
from modelyard.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from modelyard.config import Settings
    from modelyard.kit.db import Database
    from modelyard.storage import BlobStore

logger = logging.getLogger("modelyard.cli")
_REMOTE_HINT = "commands against a running server (models, jobs, datasets ...) take --url instead"


class NoDatabase(CommandFailed):
    def __init__(self, message: str) -> None:
        super().__init__(message, UNREACHABLE)


def _shown(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def check_database(url: str) -> None:
    """Raise :class:`NoDatabase` unless ``url`` is a reachable modelyard database (without
    creating anything)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            home = get_settings().home
            raise NoDatabase(
                f"There is no modelyard database at {path} (MODELYARD_HOME={home}); "
                f"`modelyard db upgrade` creates one, MODELYARD_HOME or MODELYARD_DATABASE_URL "
                f"names the server's, and {_REMOTE_HINT}."
            )
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            migrated = sa.inspect(connection).has_table("alembic_version")
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise NoDatabase(f"Cannot reach the database at {_shown(url)}: {reason}.") from exc
    finally:
        engine.dispose()
    if not migrated:
        raise NoDatabase(
            f"The database at {_shown(url)} has no modelyard tables; "
            "`modelyard db upgrade` creates them."
        )


def database_behind(url: str) -> bool:
    """Whether migrations are pending, once the database answers: a server or worker started
    while the database is down (or still starting) waits for it, with one log line per
    attempt and a back-off to 30 s, rather than exit."""
    from modelyard.kit import migrate
    from modelyard.kit.backoff import Outage, wait_until

    behind: list[bool] = []
    wait_until(lambda: behind.append(migrate.pending(url)), Outage("the database", logger))
    return behind[-1]


def open_database(url: str | None = None) -> Database:
    """The configured database (or ``url``), checked by :func:`check_database`."""
    from modelyard.kit.db import Database

    url = url or get_settings().resolved_database_url
    check_database(url)
    return Database(url)


@contextmanager
def session() -> Iterator[Session]:
    db = open_database()
    try:
        with db.session() as s:
            yield s
    finally:
        db.dispose()


def usable_store(settings: Settings) -> BlobStore:
    """The configured blob store, checked as a process starts: wrong settings (an unknown URL,
    refused credentials, no such bucket) end the command with the reason; a store that is only
    unreachable now is reported and the command goes on."""
    import typer
    from rich.console import Console

    from modelyard.storage import StoreUnavailable, check_at_start, open_store

    console = Console(stderr=True)
    try:
        store = open_store(settings)
        away = check_at_start(store)
    except (StoreUnavailable, ValueError) as exc:
        console.print(f"[red]The blob store cannot be used:[/] {getattr(exc, 'detail', exc)}")
        raise typer.Exit(2) from None
    if away:
        console.print(f"[yellow]warning:[/] {away}; going on without it for now", highlight=False)
    return store

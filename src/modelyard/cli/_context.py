"""What CLI commands share: the database of the configured settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from modelyard.config import get_settings
from modelyard.kit import migrate
from modelyard.kit.backoff import Outage, wait_until
from modelyard.kit.db import Database

logger = logging.getLogger("modelyard.cli")


def database_behind(url: str) -> bool:
    """Whether migrations are pending, once the database answers: a server or worker started
    while the database is down (or still starting) waits for it, with one log line per
    attempt and a back-off to 30 s, rather than exit."""
    behind: list[bool] = []
    wait_until(lambda: behind.append(migrate.pending(url)), Outage("the database", logger))
    return behind[-1]


@contextmanager
def session() -> Iterator[Session]:
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as s:
            yield s
    finally:
        db.dispose()

"""What CLI commands share: the database of the configured settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from modelyard.config import get_settings
from modelyard.kit.db import Database


@contextmanager
def session() -> Iterator[Session]:
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as s:
            yield s
    finally:
        db.dispose()

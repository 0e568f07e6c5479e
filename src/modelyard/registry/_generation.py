"""The registry's generation: how many times it has changed.

Every write in :mod:`modelyard.registry.service` calls :func:`changed`, which adds one to the
single row of ``registry_generation`` in the writer's transaction, so the count moves when the
write commits, whichever process made it (a server, a job worker, the CLI). Whatever is read
from the registry can be cached under the generation it was read at (registry reads,
the serving endpoint's references) and is valid while the generation has not moved. On
PostgreSQL the row's lock orders the writers' commits, so the count never skips a write.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from modelyard.kit.db import Database
from modelyard.models import RegistryGeneration

__all__ = ["changed", "generation", "generation_now"]

_READ = sa.select(RegistryGeneration.value).where(RegistryGeneration.id == 1)
_BUMP = (
    sa.update(RegistryGeneration)
    .where(RegistryGeneration.id == 1)
    .values(value=RegistryGeneration.value + 1)
)


def changed(session: Session) -> None:
    """Count a registry write, in the writer's transaction: cached reads miss from its commit on."""
    session.connection().execute(_BUMP)


def generation_now(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(_READ).scalar() or 0)


async def generation(database: Database) -> int:
    """The registry's generation now (read in the thread pool: the event loop never waits
    for a pooled connection)."""
    return await run_in_threadpool(generation_now, database)

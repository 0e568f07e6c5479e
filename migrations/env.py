"""Alembic environment: the URL comes from modelyard's settings (or the caller's config)."""

from __future__ import annotations

from alembic import context

from modelyard.kit.db import make_engine
from modelyard.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Only modelyard's own tables: Huey's PostgreSQL queue keeps its tables in the same
    database, and autogenerate must not propose dropping them."""
    return not (
        type_ == "table" and reflected and compare_to is None and name not in Base.metadata.tables
    )


def run_migrations_offline() -> None:
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

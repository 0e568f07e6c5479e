"""``modelyard db``: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from modelyard.cli._context import check_database
from modelyard.config import get_settings
from modelyard.kit import migrate

app = typer.Typer(
    help="Database schema migrations, on MODELYARD_DATABASE_URL / MODELYARD_HOME.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url, revision)
    console.print(f"database at {revision}: {settings.resolved_database_url}")


@app.command()
def status() -> None:
    """Say whether migrations are pending (without creating a database)."""
    settings = get_settings()
    check_database(settings.resolved_database_url)
    console.print(
        "migrations pending" if migrate.pending(settings.resolved_database_url) else "up to date"
    )

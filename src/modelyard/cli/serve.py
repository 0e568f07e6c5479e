"""``modelyard serve``: the API and web UI on granian."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer
from rich.console import Console

from modelyard.config import get_settings
from modelyard.kit import migrate

console = Console(stderr=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    job_workers: Annotated[
        int | None,
        typer.Option(help="Job worker threads in each server process (default jobs.workers)."),
    ] = None,
) -> None:
    """Serve the API (/api, /docs) and the web UI with granian."""
    from granian.constants import Interfaces
    from granian.server import Server

    if job_workers is not None:
        # Read by each server process's lifespan, which runs the embedded job workers.
        os.environ["MODELYARD_JOBS__WORKERS"] = str(job_workers)
        get_settings.cache_clear()
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if migrate.pending(settings.resolved_database_url):
        console.print(
            "[red]The database is not at the newest schema.[/] Run `modelyard db upgrade` first."
        )
        raise typer.Exit(2)
    console.print(
        f"modelyard serving on http://{host}:{port} (database {settings.resolved_database_url})"
    )
    Server(
        "modelyard.app:create_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=access_log,
    ).serve()

"""``modelyard worker``: run jobs from the shared queue, on any machine.

Point it at the same database and queue as the server (``MODELYARD_DATABASE_URL`` and
``MODELYARD_REDIS_URL``, or the same ``MODELYARD_HOME`` for the embedded SQLite queue).
SIGTERM or Ctrl-C stops taking jobs; running jobs go back to the queue at their next
checkpoint (within ``jobs.shutdown_grace_seconds``), then the process exits. A second signal
exits at once; the reaper of another process then recovers what was running.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from modelyard.cli._context import database_behind, usable_store
from modelyard.config import get_settings
from modelyard.kit.db import Database

console = Console(stderr=True)


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=256, help="Jobs run at once.")
    ] = 2,
    import_modules: Annotated[
        list[str] | None,
        typer.Option("--import", help="Extra module defining job kinds (repeatable)."),
    ] = None,
    warm: Annotated[
        bool,
        typer.Option(
            "--warm/--no-warm",
            help="Import numpy, pyarrow, scikit-learn and skops in the background at start, "
            "so the first evaluation does not wait 10-40 s for them (about 170 MiB more RSS).",
        ),
    ] = True,
) -> None:
    """Run background jobs from the shared queue until SIGTERM or Ctrl-C."""
    import modelyard.tasks  # noqa: F401  (registers every job kind)
    from modelyard.jobs.runtime import JobRuntime

    for name in import_modules or []:
        importlib.import_module(name)
    settings = get_settings()
    if database_behind(settings.resolved_database_url):
        console.print(
            "[red]The database is not at the newest schema.[/] Run `modelyard db upgrade` first."
        )
        raise typer.Exit(2)
    store = usable_store(settings)
    db = Database(settings.resolved_database_url)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from modelyard.cache import open_cache

    cache = open_cache(settings)
    if cache.shared:  # jobs (the live experiment) then share S_max predictions with servers
        cache.start_in_thread()
    runtime = JobRuntime(settings, db, store).start(concurrency)
    if warm:
        from modelyard.evaluations import warmup

        warmup.start()
    console.print(
        f"modelyard worker {runtime.worker_id}: {concurrency} at once on the {runtime.backend} "
        f"queue '{runtime.queue_name}' (database {db.engine.url.render_as_string()})",
        highlight=False,
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        console.print("stopping: running jobs go back to the queue at their next checkpoint")
        runtime.stop()
        cache.close_in_thread()
        db.dispose()

"""``modelyard worker``: run jobs from the shared queue, on any machine.

Point it at the same database and queue as the server (``MODELYARD_DATABASE_URL`` and
``MODELYARD_REDIS_URL``, or the same ``MODELYARD_HOME`` for the embedded SQLite queue).
SIGTERM or Ctrl-C stops taking jobs; running jobs go back to the queue at their next
checkpoint (within ``jobs.shutdown_grace_seconds``), then the process exits. A second signal
exits at once; the reaper of another process then recovers what was running.
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from modelyard.cli._context import database_behind, usable_store
from modelyard.cli.serve import refuse_port_in_use
from modelyard.config import Settings, get_settings
from modelyard.kit.db import Database
from modelyard.storage import BlobStore

if TYPE_CHECKING:
    from modelyard.telemetry import WorkerEndpoints

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
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve /metrics, /health/live and /health/ready on this port (off by default).",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address for --metrics-port (0.0.0.0 in a container).")
    ] = "127.0.0.1",
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
    if metrics_port:
        refuse_port_in_use(metrics_host, metrics_port)
    db = Database(settings.resolved_database_url)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # `kill -USR1 PID` prints every thread's stack to stderr: what a stuck job is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    from modelyard.cache import open_cache

    cache = open_cache(settings)
    if cache.shared:  # jobs (the live experiment) then share S_max predictions with servers
        cache.start_in_thread()
    runtime = JobRuntime(settings, db, store, cache=cache).start(concurrency)
    endpoints = (
        _endpoints(metrics_host, metrics_port, settings, db, store)
        if metrics_port is not None
        else None
    )
    if warm:
        from modelyard.evaluations import warmup

        warmup.start()
    console.print(
        f"modelyard worker {runtime.worker_id}: {concurrency} at once on the {runtime.backend} "
        f"queue '{runtime.queue_name}' (database {db.engine.url.render_as_string()})",
        highlight=False,
    )
    if endpoints is not None:
        console.print(
            f"metrics and health on http://{metrics_host}:{endpoints.port}/metrics", highlight=False
        )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        console.print("stopping: running jobs go back to the queue at their next checkpoint")
        if endpoints is not None:
            endpoints.stop()
        runtime.stop()
        cache.close_in_thread()
        db.dispose()


def _endpoints(
    host: str, port: int, settings: Settings, db: Database, store: BlobStore
) -> WorkerEndpoints:
    """The worker's /metrics and health probes: ready means the database, the queue (Redis,
    when it carries the queue) and the blob store all answer."""
    import sqlalchemy as sa

    from modelyard.jobs import QueueGauges
    from modelyard.telemetry import Sampler, WorkerEndpoints

    def database() -> None:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    checks: dict[str, Callable[[], object]] = {"database": database}
    if settings.uses_redis:
        import redis

        client = redis.Redis.from_url(
            str(settings.redis_url), socket_timeout=2, socket_connect_timeout=2
        )
        checks["queue"] = client.ping
    checks["store"] = store.check

    def authorise(token: str | None) -> None:
        from modelyard.auth.service import resolve_secret
        from modelyard.kit.errors import Unauthorized

        if token is None:
            raise Unauthorized("Send a token (Authorization: Bearer ...) to read metrics.")
        with db.engine.begin() as conn:
            resolve_secret(conn, token)

    Sampler(settings.home).start()
    return WorkerEndpoints(
        host,
        port,
        checks=checks,
        authorise=None if settings.metrics_public else authorise,
        refresh=[QueueGauges(db).refresh],
    ).start()

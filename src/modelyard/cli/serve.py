"""``modelyard serve``: the API and web UI on granian."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from modelyard.cli._context import database_behind, usable_store
from modelyard.config import get_settings

console = Console(stderr=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes. One serves in this process; more run under granian's "
            "supervisor."
        ),
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    job_workers: Annotated[
        int | None,
        typer.Option(help="Job worker threads in each server process (default jobs.workers)."),
    ] = None,
) -> None:
    """Serve the API (/api, /docs) and the web UI with granian."""
    if job_workers is not None:
        # Read by each server process's lifespan, which runs the embedded job workers.
        os.environ["MODELYARD_JOBS__WORKERS"] = str(job_workers)
        get_settings.cache_clear()
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if database_behind(settings.resolved_database_url):
        console.print(
            "[red]The database is not at the newest schema.[/] Run `modelyard db upgrade` first."
        )
        raise typer.Exit(2)
    usable_store(settings)  # wrong credentials end here, not in every server process
    refuse_port_in_use(host, port)
    if workers > 1:
        _multiprocess_metrics(settings.home, port)
    console.print(
        f"modelyard serving on http://{host}:{port} (database {settings.resolved_database_url})"
    )
    if workers == 1:
        _exec_embedded(host=host, port=port, access_log=access_log)
    _exec_granian(host=host, port=port, workers=workers, access_log=access_log)


def refuse_port_in_use(host: str, port: int) -> None:
    """Exit with a clear message when something already listens on ``host:port``.

    granian binds with SO_REUSEPORT, so a second server on a taken port would start and the
    kernel would share the connections between the two (with different homes or databases,
    every other request would answer from the wrong one). A plain bind, without that option,
    fails on any port another socket holds.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            holder = _holder(port)
            console.print(
                f"[red]Port {port} on {host} is already in use{holder}.[/] Stop that server or "
                "choose another port with --port.",
                highlight=False,
            )
            raise typer.Exit(2) from None


def _holder(port: int) -> str:
    """`` by process 1234 (python -m modelyard.embedded ...)`` when it can be seen."""
    import psutil

    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return ""
                command = " ".join(psutil.Process(conn.pid).cmdline())[:120]
                return f" by process {conn.pid} ({command})"
    except (psutil.Error, OSError):
        pass
    return ""


def _multiprocess_metrics(home: Path, port: int) -> None:
    """Several server processes: each writes its metrics to files that /metrics in any of
    them adds up (prometheus_client's multiprocess mode). The directory is this server's
    (one per port under the home) and emptied now, so nothing from an earlier run counts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    else:
        directory = home.resolve() / "tmp" / f"prometheus-{port}"
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def _exec_embedded(*, host: str, port: int, access_log: bool) -> NoReturn:
    """Become one process that serves the app itself (:mod:`modelyard.embedded`).

    granian's launcher would keep a supervisor process (about 30 MB) beside its one worker;
    exec'ing a fresh interpreter also leaves this CLI's modules (typer, rich, alembic:
    about 10 MB) behind.
    """
    argv = [
        sys.executable, "-m", "modelyard.embedded", "--host", host, "--port", str(port),
    ]  # fmt: skip
    if access_log:
        argv.append("--access-log")
    _exec(argv)


def _exec_granian(*, host: str, port: int, workers: int, access_log: bool) -> NoReturn:
    """Become granian's own launcher (same PID, same environment).

    The supervisor process then holds granian alone rather than every module this CLI
    imported (about 80 MB), and each worker it forks imports the app for itself.
    """
    server = get_settings().server
    argv = [
        sys.executable, "-m", "granian",
        "--interface", "asgi", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--access-log" if access_log else "--no-access-log",
        "--backlog", str(server.backlog), "--backpressure", str(server.concurrency),
        "modelyard.app:create_app",
    ]  # fmt: skip
    _exec(argv)


def _exec(argv: list[str]) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def serve_model(
    ref: Annotated[str, typer.Argument(help="`name`, `name/3` or `name@alias`.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8080,
    workers: Annotated[int, typer.Option(help="Server processes (granian's supervisor).")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve predictions of one model alone: POST /invocations (as `mlflow models serve`)
    and POST /api/models/REF/predict, on this installation's database and artifacts."""
    from modelyard.registry.service import parse_reference
    from modelyard.serving.app import REF_VARIABLE

    parse_reference(ref)  # a malformed reference fails here, not in the server
    settings = get_settings()
    if database_behind(settings.resolved_database_url):
        console.print(
            "[red]The database is not at the newest schema.[/] Run `modelyard db upgrade` first."
        )
        raise typer.Exit(2)
    os.environ[REF_VARIABLE] = ref
    console.print(f"modelyard serving {ref} on http://{host}:{port}/invocations")
    if workers == 1:
        argv = [sys.executable, "-m", "modelyard.serving.app", "--host", host, "--port", str(port)]
        _exec(argv + (["--access-log"] if access_log else []))
    argv = [
        sys.executable, "-m", "granian",
        "--interface", "asgi", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--access-log" if access_log else "--no-access-log",
        "modelyard.serving.app:create_serving_app",
    ]  # fmt: skip
    _exec(argv)

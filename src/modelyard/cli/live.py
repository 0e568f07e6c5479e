"""``modelyard live``: run the live loop, run the tuning experiment, list targets and deployments."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelyard.cli._context import check_database
from modelyard.config import get_settings
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.storage import open_store

app = typer.Typer(
    no_args_is_help=True,
    help="Live targets, deployments and online tuning, on this machine's database directly.",
)
console = Console(stderr=True)


def _database() -> Database:
    settings = get_settings()
    url = settings.resolved_database_url
    check_database(url)
    if migrate.pending(url):
        console.print(
            "[red]The database is not at the newest schema.[/] Run `modelyard db upgrade` first."
        )
        raise typer.Exit(2)
    return Database(url)


@app.command("run")
def run() -> None:
    """Follow running targets and evaluate their deployments (without the web server)."""
    from modelyard.cache import open_cache
    from modelyard.deployments.live import start_live, stop_live

    settings = get_settings()
    db = _database()
    settings.live.enabled = True
    cache = open_cache(settings)
    if cache.shared:  # S_max predictions shared with the servers and workers
        cache.start_in_thread()
    runtime = start_live(settings, db, cache)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    console.print("Following running targets; Ctrl-C stops.")
    stop.wait()
    stop_live(runtime)
    cache.close_in_thread()
    db.dispose()


@app.command("experiment")
def experiment(
    value_before: Annotated[int, typer.Option(help="Value size before the shift (bytes).")] = 100,
    value_after: Annotated[int, typer.Option(help="Value size after the shift (bytes).")] = 1000,
    calibrate_seconds: Annotated[
        float, typer.Option(help="Calibration on the first workload.")
    ] = 20.0,
    before_seconds: Annotated[
        float, typer.Option(help="Both deployments before the shift.")
    ] = 15.0,
    after_seconds: Annotated[float, typer.Option(help="Scored seconds after the shift.")] = 60.0,
    window: Annotated[int, typer.Option(help="Intervals per scored window.")] = 10,
    report_dir: Annotated[
        Path | None, typer.Option(help="Write the timeline and reports here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Shift a live RocksDB workload under a frozen and an auto-tuned deployment; compare errors."""
    from modelyard.deployments.experiment import run_experiment
    from modelyard.monitoring.store import MetricStore

    settings = get_settings()
    db = _database()
    store = MetricStore(db.engine)
    try:
        result = run_experiment(
            db,
            store,
            settings.home,
            blobs=open_store(settings),
            value_before=value_before,
            value_after=value_after,
            calibrate_seconds=calibrate_seconds,
            before_seconds=before_seconds,
            after_seconds=after_seconds,
            window_intervals=window,
            progress=lambda message: console.print(f"[dim]{message}[/]"),
        )
    finally:
        db.dispose()
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "experiment.json").write_text(
            json.dumps(result.to_dict(with_timeline=True), default=str, indent=1)
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
        return
    table = Table(
        title=f"Errors after the shift ({value_before} B -> {value_after} B), same {result.windows_after_shift} windows"
    )
    table.add_column("deployment")
    table.add_column("median |error| after shift", justify="right")
    table.add_column("median |error| before shift", justify="right")

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}%"

    table.add_row(
        "frozen", pct(result.frozen_median_abs_error_pct), pct(result.frozen_before_shift_pct)
    )
    table.add_row(
        "auto-tuned", pct(result.tuned_median_abs_error_pct), pct(result.tuned_before_shift_pct)
    )
    Console().print(table)
    console.print(
        f"improvement {pct(result.improvement_pct)}; version {result.calibrated_version}; "
        f"{result.tuning_records} tuning records; measured S_max after the shift "
        f"{result.measured_after_shift_ops_per_sec or 0:,.0f} ops/s"
    )


@app.command("targets")
def targets() -> None:
    """List targets and their status."""
    from modelyard.targets import service

    db = _database()
    with db.session() as session:
        rows = service.list_targets(session).items
    table = Table("id", "name", "kind", "status", "reason", "last sample")
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            row.kind,
            row.status,
            row.status_reason,
            str(row.last_sample_at or "-"),
        )
    Console().print(table)
    db.dispose()


@app.command("deployments")
def deployments() -> None:
    """List deployments and their last prediction."""
    from modelyard.deployments import service

    db = _database()
    with db.session() as session:
        rows = service.list_deployments(session).items
    table = Table("id", "name", "target", "serving", "tune", "status", "predicted", "error")
    for row in rows:
        last = row.state.get("last", {})
        predicted = last.get("predicted")
        error = last.get("error_pct")
        table.add_row(
            str(row.id),
            row.name,
            row.target,
            row.serving_version or "-",
            "yes" if row.auto_tune else "no",
            row.status,
            "-" if predicted is None else f"{predicted:,.0f}",
            "-" if error is None else f"{error:+.1f}%",
        )
    Console().print(table)
    db.dispose()

"""The ``modelyard`` command: one module per verb group, mounted here."""

from __future__ import annotations

import typer

from modelyard.cli import artifacts, datasets, db, demo, jobs, serve, smax, users, worker
from modelyard.cli import live as live_cli

app = typer.Typer(
    name="modelyard",
    help="Self-hosted model management: registry, jobs, live deployments, S_max models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("demo")(demo.demo)
app.add_typer(db.app, name="db")
app.add_typer(users.user_app, name="user")
app.add_typer(users.token_app, name="token")
app.add_typer(jobs.app, name="jobs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(
    live_cli.app,
    name="live",
    help="Live targets, deployments, online tuning and the tuning experiment.",
)
app.add_typer(smax.app, name="smax", help="Measure, calibrate, predict and validate RocksDB S_max.")


def main() -> None:
    app()

"""The ``modelyard`` command: one module per verb group, each imported only when it runs.

Two kinds of commands, listed apart in ``modelyard --help``:

- **Against a server** (``models``, ``versions``, ``aliases``, ``datasets``, ``evaluations``,
  ``jobs``, ``drift``, ``deployments``, ``alerts``, ``reports``, ``import``, ``profile``): HTTP through
  :mod:`modelyard.client`, to ``--url``/``--token``, ``MODELYARD_URL``/``MODELYARD_TOKEN`` or a
  profile; they run anywhere, with or without the server's extras.
- **On this machine** (``serve``, ``serve-model``, ``worker``, ``demo``, ``db``, ``user``, ``token``,
  ``artifacts``, ``live``, ``smax``): they open the database of ``MODELYARD_DATABASE_URL`` /
  ``MODELYARD_HOME`` directly, and say so in one sentence when there is none.

``modelyard --help`` imports no group: :class:`_LazyRoot` lists each from the table below and
loads its module when it is invoked. Failures leave as one sentence on stderr and an exit code
(:mod:`modelyard.cli._errors`, documented in the README).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

REMOTE = "Against a server: --url/--token, MODELYARD_URL/_TOKEN or a profile"
LOCAL = "On this machine's database: MODELYARD_DATABASE_URL or _HOME"

# name, module, attribute (a Typer app, or a function for a single command), help, panel
COMMANDS: list[tuple[str, str, str, str, str]] = [
    ("models", "models", "app", "Models: list, show, create, update, tag, delete.", REMOTE),
    (
        "versions",
        "versions",
        "app",
        "Versions: list, show, create (with an artifact), download, tag, delete.",
        REMOTE,
    ),
    ("aliases", "aliases", "app", "Aliases (name@alias): set, show, delete.", REMOTE),
    (
        "datasets",
        "datasets",
        "app",
        "Datasets: upload (resumable, with a progress bar), list, show, preview, delete.",
        REMOTE,
    ),
    (
        "evaluations",
        "evaluations",
        "app",
        "Evaluations: create, wait with a progress bar, list, show, compare, cancel.",
        REMOTE,
    ),
    ("jobs", "jobs", "app", "Background jobs: list, show, follow, cancel, retry.", REMOTE),
    ("drift", "drift", "app", "Data drift checks: create, wait, list, show, cancel.", REMOTE),
    (
        "deployments",
        "deployments",
        "app",
        "Deployments: list, show, create, watch, stop, delete, alerts.",
        REMOTE,
    ),
    ("alerts", "alerts", "app", "Alerts: list, show, acknowledge; rules.", REMOTE),
    ("reports", "reports", "app", "Reports: build the weekly report, list, download.", REMOTE),
    ("import", "imports", "app", "Import another registry's models (mlflow) as a job.", REMOTE),
    (
        "profile",
        "profile",
        "app",
        "Servers to talk to: profiles in ~/.config/modelyard/config.toml; whoami.",
        REMOTE,
    ),
    ("serve", "serve", "serve", "Serve the API (/api, /docs) and the web UI.", LOCAL),
    (
        "serve-model",
        "serve",
        "serve_model",
        "Serve predictions of one model alone (POST /invocations).",
        LOCAL,
    ),
    ("worker", "worker", "worker", "Run job workers on the configured database and queue.", LOCAL),
    ("demo", "demo", "demo", "Create the database, load demo data, and optionally serve.", LOCAL),
    ("db", "db", "app", "Database schema migrations.", LOCAL),
    ("user", "users", "user_app", "Users, on the database directly (the first admin).", LOCAL),
    (
        "token",
        "users",
        "token_app",
        "API tokens, on the database directly (the first token).",
        LOCAL,
    ),
    ("artifacts", "artifacts", "app", "The artifact store: garbage collection.", LOCAL),
    (
        "live",
        "live",
        "app",
        "Live targets, deployments, online tuning and the tuning experiment.",
        LOCAL,
    ),
    ("smax", "smax", "app", "Measure, calibrate, predict and validate RocksDB S_max.", LOCAL),
]


def _load(module: str, attribute: str, name: str) -> Any:
    """The click command of a group (a Typer app) or of a single command (a function)."""
    target = getattr(importlib.import_module(f"modelyard.cli.{module}"), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer()
        single.command(name)(target)
        target = single
    target._add_completion = False  # the root would offer it; a group repeating it is noise
    return typer.main.get_command(target)


class _Deferred(TyperGroup):
    """A group's stand-in: its name and help for listings; the real command once it runs."""

    def __init__(self, name: str, module: str, attribute: str, help: str, panel: str) -> None:
        super().__init__(name=name, help=help, rich_help_panel=panel)
        self._where = (module, attribute)
        self._real: Any = None

    def real(self) -> Any:
        if self._real is None:
            self._real = _load(*self._where, self.name or "")
        return self._real

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        return self.real().shell_complete(ctx, incomplete)


class _LazyRoot(TyperGroup):
    """The root group: every command is a :class:`_Deferred`; errors become exit codes."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, module, attribute, help_text, panel in COMMANDS:
            self.add_command(_Deferred(name, module, attribute, help_text, panel))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Plain help, one section per panel: rich's help (typer.rich_utils) imports rich and
        # markdown-it, several times what the rest of `modelyard --help` costs.
        for panel in (REMOTE, LOCAL):
            rows = [
                (c.name or "", c.help or "")
                for c in self.commands.values()
                if getattr(c, "rich_help_panel", None) == panel
            ]
            with formatter.section(panel):
                formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        from modelyard.cli._errors import handled

        with handled():
            return super().invoke(ctx)


app = typer.Typer(
    name="modelyard",
    cls=_LazyRoot,
    help="Self-hosted model management: registry, jobs, live deployments, S_max models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # see _LazyRoot.format_commands
)


@app.callback()
def _root() -> None:
    """Self-hosted model management: registry, jobs, live deployments, S_max models."""


def main() -> None:
    app(prog_name="modelyard")

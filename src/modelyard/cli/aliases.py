"""``modelyard aliases``: ``name@alias`` pointers to versions, against a server."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._remote import Remote, remote

app = typer.Typer(help="Aliases (name@alias): set, show, delete.", no_args_is_help=True)

Model = Annotated[str, typer.Argument(help="The model's name.")]
Alias = Annotated[str, typer.Argument(help="The alias, e.g. production.")]


@remote(app, "set")
def set_alias(
    remote: Remote,
    model: Model,
    alias: Alias,
    version: Annotated[int, typer.Argument(min=1, help="The version it points at.")],
) -> None:
    """Point MODEL@ALIAS at VERSION (creating or moving the alias)."""
    moved = remote.client.aliases.set(model, alias, version)
    remote.done(f"[bold]{model}@{alias}[/] -> version {moved.version}", moved)


@remote(app, "show")
def show(remote: Remote, model: Model, alias: Alias) -> None:
    """Resolve MODEL@ALIAS to its version."""
    remote.emit(remote.client.aliases.get(model, alias))


@remote(app, "delete")
def delete(remote: Remote, model: Model, alias: Alias) -> None:
    """Remove an alias (the version stays)."""
    remote.client.aliases.delete(model, alias)
    remote.done(f"{model}@{alias} removed")

"""``modelyard artifacts gc``: find, and with ``--delete`` remove, blobs no version names.

It runs on the configured database and blob store, beside a running server: the grace
period keeps it off blobs an upload in flight has just stored and not yet committed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._context import session
from modelyard.config import get_settings
from modelyard.registry.artifacts import ArtifactStore
from modelyard.registry.garbage import collect_artifacts
from modelyard.storage import open_store

app = typer.Typer(
    help="The artifact store: garbage collection, on this machine's database and files.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """The artifact store: garbage collection, on this machine's database and files."""


@app.command()
def gc(
    grace_hours: Annotated[
        float,
        typer.Option(
            "--grace-hours", min=0.0, help="Keep files last written less than this long ago."
        ),
    ] = 24.0,
    delete: Annotated[
        bool, typer.Option("--delete", help="Remove them; without it, only list them.")
    ] = False,
) -> None:
    """List blobs no model version names (and stale temporary uploads); remove with --delete."""
    settings = get_settings()
    store = ArtifactStore.of(open_store(settings), settings)
    with session() as s:
        found = collect_artifacts(s, store, grace_seconds=grace_hours * 3600, dry_run=not delete)
    verb = "removed" if delete else "would remove"
    for item in found:
        # Plain lines, one a file, unwrapped: scripts read them.
        typer.echo(f"{verb} {item.key} ({item.size} bytes, {item.age_seconds / 3600:.1f} h old)")
    total = sum(item.size for item in found)
    summary = f"{verb} {len(found)} files, {total} bytes (grace {grace_hours:g} h)"
    typer.echo(summary if delete else f"{summary}; pass --delete to remove")

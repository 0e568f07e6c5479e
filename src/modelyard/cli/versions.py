"""``modelyard versions``: model versions and their artifacts, against a server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from modelyard.cli._errors import USAGE, CommandFailed
from modelyard.cli._remote import Column, Remote, key_values, remote

app = typer.Typer(
    help="Versions: list, show, create (with an artifact), download, tag, delete.",
    no_args_is_help=True,
)

COLUMNS: list[Column] = [
    ("version", lambda v: v.version),
    ("flavor", lambda v: v.flavor),
    ("aliases", lambda v: " ".join("@" + a for a in v.aliases)),
    ("artifact", lambda v: f"{v.artifact.size:,} B" if v.artifact else None),
    ("metrics", lambda v: v.metrics),
    ("created", lambda v: v.created_at),
    ("by", lambda v: v.created_by),
]

Reference = Annotated[
    str, typer.Argument(help="`name/3`, `name@alias`, or a name for its latest version.")
]


def _json_option(value: str | None, what: str) -> dict[str, Any]:
    """A JSON object given inline or as @file."""
    if value is None:
        return {}
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, OSError) as exc:
        raise CommandFailed(f"{what} is not valid JSON: {exc}.", USAGE) from exc
    if not isinstance(parsed, dict):
        raise CommandFailed(f"{what} must be a JSON object.", USAGE)
    return parsed


@remote(app, "list")
def list_versions(
    remote: Remote,
    model: Annotated[str, typer.Argument(help="The model's name.")],
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """List a model's versions, newest first."""
    remote.emit(remote.client.versions.list(model, limit=limit), COLUMNS)


@remote(app, "show")
def show(remote: Remote, reference: Reference) -> None:
    """Show a version: flavor, parameters, metrics, tags, aliases, lineage, artifact."""
    remote.emit(remote.client.versions.get(reference))


@remote(app, "create")
def create(
    remote: Remote,
    model: Annotated[str, typer.Argument(help="The model's name.")],
    flavor: Annotated[
        str, typer.Option(help="formula, sklearn (a skops file), onnx, or generic.")
    ] = "generic",
    parameters: Annotated[str | None, typer.Option(help="A JSON object, or @file.json.")] = None,
    artifact: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="The model file."),
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="NAME=NUMBER; repeat.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE; repeat.")] = None,
    description: Annotated[str, typer.Option()] = "",
    source: Annotated[str, typer.Option(help="Where it came from (a commit, a run).")] = "",
    parent: Annotated[
        str | None, typer.Option(help="Lineage: the version it derives from (`model/3`).")
    ] = None,
) -> None:
    """Add a version: parameters (formula) and/or an artifact, streamed with a progress bar."""
    metrics: dict[str, float] = {}
    for key, value in key_values(metric or [], "--metric").items():
        try:
            metrics[key] = float(value)
        except ValueError as exc:
            raise CommandFailed(f"--metric {key} must be a number, not {value!r}.", USAGE) from exc
    fields: dict[str, Any] = {
        "flavor": flavor,
        "parameters": _json_option(parameters, "--parameters"),
        "metrics": metrics,
        "tags": key_values(tag or [], "--tag"),
        "description": description,
        "source": source,
        "parent": parent,
    }
    if artifact is None:
        version = remote.client.versions.create(model, **fields)
    else:
        with remote.progress(transfer=True) as bar:
            task = bar.add_task(artifact.name, total=artifact.stat().st_size)
            version = remote.client.versions.create(
                model,
                artifact=artifact,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                **fields,
            )
    remote.done(f"[bold]{version.model}/{version.version}[/] registered", version)


@remote(app, "download")
def download(
    remote: Remote,
    reference: Reference,
    destination: Annotated[
        Path | None, typer.Argument(help="A file to write (default: the artifact's file name).")
    ] = None,
) -> None:
    """Download a version's artifact, checked against its SHA-256."""
    version = remote.client.versions.get(reference)
    if version.artifact is None:
        raise CommandFailed(f"{version.model}/{version.version} has no artifact.", 1)
    target = destination or Path(
        version.artifact.filename or f"{version.model}-{version.version}.bin"
    )
    if target.is_dir():
        target = target / (version.artifact.filename or f"{version.model}-{version.version}.bin")
    with remote.progress(transfer=True) as bar:
        task = bar.add_task(target.name, total=version.artifact.size)
        size = remote.client.artifacts.download(
            f"{version.model}/{version.version}",
            target,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    remote.done(
        f"wrote {target} ({size:,} bytes, sha256 {version.artifact.sha256[:12]}...)",
        {
            "path": str(target),
            "size": size,
            "sha256": version.artifact.sha256,
        },
    )


@remote(app, "tag")
def tag(
    remote: Remote,
    reference: Reference,
    pairs: Annotated[list[str], typer.Argument(help="KEY=VALUE to set, or KEY= to remove.")],
) -> None:
    """Set (KEY=VALUE) or remove (KEY=) tags of a version."""
    changes: dict[str, str | None] = {
        key: (value or None) for key, value in key_values(pairs, "A tag").items()
    }
    version = remote.client.versions.update(reference, tags=changes)
    remote.done(f"[bold]{version.model}/{version.version}[/] tags: {version.tags}", version)


@remote(app, "delete")
def delete(
    remote: Remote,
    reference: Annotated[str, typer.Argument(help="`name/3` or `name@alias`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a version and the aliases that point at it."""
    if not yes:
        typer.confirm(f"Delete {reference}?", abort=True)
    remote.client.versions.delete(reference)
    remote.done(f"{reference} deleted")

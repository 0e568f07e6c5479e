"""``modelyard models``: the registry's models, against a server."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._remote import Column, Remote, key_values, remote

app = typer.Typer(help="Models: list, show, create, update, tag, delete.", no_args_is_help=True)

COLUMNS: list[Column] = [
    ("name", lambda m: m.name),
    ("latest", lambda m: m.latest_version),
    ("flavor", lambda m: m.latest_flavor),
    ("aliases", lambda m: " ".join(f"@{a}={v}" for a, v in sorted(m.aliases.items()))),
    ("tags", lambda m: " ".join(f"{k}={v}" for k, v in sorted(m.tags.items()))),
    ("updated", lambda m: m.updated_at),
]

Name = Annotated[str, typer.Argument(help="The model's name.")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE; repeat.")]


@remote(app, "list")
def list_models(
    remote: Remote,
    q: Annotated[str | None, typer.Option("--q", help="A part of the name.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY or KEY=VALUE the model has; repeat.")
    ] = None,
    flavor: Annotated[
        str | None, typer.Option(help="Models with a version of this flavor.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
) -> None:
    """List models by name, with their latest version, aliases and tags."""
    remote.emit(remote.client.models.list(q=q, tags=tag, flavor=flavor, limit=limit), COLUMNS)


@remote(app, "show")
def show(remote: Remote, name: Name) -> None:
    """Show a model."""
    remote.emit(remote.client.models.get(name))


@remote(app, "create")
def create(
    remote: Remote,
    name: Name,
    description: Annotated[str, typer.Option(help="What the model is for.")] = "",
    tag: Tags = None,
) -> None:
    """Register a model."""
    model = remote.client.models.create(
        name, description=description, tags=key_values(tag or [], "--tag")
    )
    remote.done(f"model [bold]{model.name}[/] registered", model)


@remote(app, "update")
def update(
    remote: Remote,
    name: Name,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    tag: Tags = None,
    untag: Annotated[
        list[str] | None, typer.Option("--untag", help="KEY to remove; repeat.")
    ] = None,
) -> None:
    """Change a model's description, set tags (--tag) and remove them (--untag)."""
    tags: dict[str, str | None] = {**key_values(tag or [], "--tag")}
    tags.update({key: None for key in untag or []})
    model = remote.client.models.update(name, description=description, tags=tags or None)
    remote.done(f"model [bold]{model.name}[/] updated", model)


@remote(app, "delete")
def delete(
    remote: Remote,
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a model with all its versions, tags and aliases."""
    if not yes:
        typer.confirm(f"Delete the model {name} and all its versions?", abort=True)
    remote.client.models.delete(name)
    remote.done(f"model [bold]{name}[/] deleted")


@remote(app, "metrics")
def metrics(
    remote: Remote,
    name: Name,
    metric: Annotated[str, typer.Argument(help="mae, rmse, mape, r2, accuracy ...")] = "mape",
    dataset: Annotated[str | None, typer.Option(help="Only this dataset (id or name).")] = None,
) -> None:
    """A metric across the model's versions (the latest evaluation of each on each dataset)."""
    trend = remote.client.models.metric_trend(name, metric, dataset=dataset)
    if remote.as_json:
        remote.emit(trend)
        return
    remote.emit(
        trend.points,
        [
            ("version", lambda p: p.version),
            ("dataset", lambda p: p.dataset.name),
            (metric, lambda p: p.value),
            ("evaluation", lambda p: p.evaluation_id),
            ("evaluated", lambda p: p.evaluated_at),
        ],
        title=f"{name}: {metric} ({trend.direction or 'no direction'} is better)",
    )

"""``modelyard deployments``: models run against live targets, against a server."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._remote import Column, Remote, remote

app = typer.Typer(
    help="Deployments: list, show, create, watch, stop, delete, alerts.", no_args_is_help=True
)

COLUMNS: list[Column] = [
    ("id", lambda d: d.id),
    ("name", lambda d: d.name),
    ("target", lambda d: d.target),
    ("model", lambda d: d.model),
    ("serving", lambda d: d.serving_version),
    ("auto-tune", lambda d: d.auto_tune),
    ("status", lambda d: d.status),
    ("created", lambda d: d.created_at),
]
Deployment = Annotated[str, typer.Argument(help="The deployment's name or id.")]


@remote(app, "list")
def list_deployments(
    remote: Remote,
    target: Annotated[str | None, typer.Option(help="Only on this target.")] = None,
    status: Annotated[str | None, typer.Option(help="active or stopped.")] = None,
) -> None:
    """List deployments and the version each serves."""
    remote.emit(
        remote.client.deployments.list(target=target, status=status),  # type: ignore[arg-type]
        COLUMNS,
    )


@remote(app, "show")
def show(remote: Remote, deployment: Deployment) -> None:
    """Show a deployment, its settings and its last state."""
    remote.emit(remote.client.deployments.get(deployment))


@remote(app, "create")
def create(
    remote: Remote,
    name: Annotated[str, typer.Argument(help="The deployment's name.")],
    target: Annotated[str, typer.Option(help="The target (name or id).")],
    model: Annotated[
        str, typer.Option(help="`name@alias` follows the alias; `name/3` pins a version.")
    ],
    candidate: Annotated[
        list[str] | None, typer.Option("--candidate", help="Another version to select from.")
    ] = None,
    auto_tune: Annotated[
        bool, typer.Option("--auto-tune", help="Tune the parameters online.")
    ] = False,
) -> None:
    """Deploy a formula version (or follow an alias) against a live target."""
    created = remote.client.deployments.create(
        name, target, model, candidates=candidate or [], auto_tune=auto_tune
    )
    remote.done(f"deployment [bold]{created.name}[/] (id {created.id}) created", created)


@remote(app, "watch")
def watch(
    remote: Remote,
    deployment: Deployment,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many intervals.")
    ] = None,
    seconds: Annotated[float | None, typer.Option(min=1, help="Stop after this long.")] = None,
) -> None:
    """Print each interval's prediction, actual and headroom as it happens (one line each,
    JSON lines with --json)."""
    import json

    for event in remote.client.deployments.events(deployment, limit=count, timeout=seconds):
        if event.event != "interval":
            continue
        data = event.json()
        if remote.as_json:
            typer.echo(json.dumps(data))
            continue
        predicted = data.get("predicted_smax")
        achieved = data.get("achieved_ops") or data.get("ops_per_sec")
        headroom = data.get("headroom")
        low, high = data.get("predicted_smax_p10"), data.get("predicted_smax_p90")
        band = f" (p10-p90 {low:.0f}-{high:.0f})" if low is not None and high is not None else ""
        flag = "  BELOW SUSTAINED RATE" if data.get("below_sustained") else ""
        typer.echo(
            f"{data.get('ts_ms')}  predicted {predicted}{band}  achieved {achieved}  "
            f"headroom {headroom}{flag}"
        )


@remote(app, "stop")
def stop(remote: Remote, deployment: Deployment) -> None:
    """Stop a deployment (its records stay)."""
    stopped = remote.client.deployments.stop(deployment)
    remote.done(f"deployment {stopped.name}: {stopped.status}", stopped)


@remote(app, "delete")
def delete(
    remote: Remote,
    deployment: Deployment,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a deployment and what it recorded."""
    if not yes:
        typer.confirm(f"Delete the deployment {deployment}?", abort=True)
    remote.client.deployments.delete(deployment)
    remote.done(f"deployment {deployment} deleted")


@remote(app, "alerts")
def alerts(
    remote: Remote,
    deployment: Deployment,
    open_only: Annotated[bool, typer.Option("--open", help="Only open ones.")] = False,
) -> None:
    """A deployment's alerts: prediction error, low headroom, target down."""
    remote.emit(
        remote.client.deployments.alerts(deployment, open_only=open_only),
        [
            ("id", lambda a: a.id),
            ("kind", lambda a: a.kind),
            ("severity", lambda a: a.severity),
            ("message", lambda a: a.message),
            ("raised", lambda a: a.raised_at),
            ("resolved", lambda a: a.resolved_at),
        ],
    )

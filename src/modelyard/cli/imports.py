"""``modelyard import``: bring another registry's models into a modelyard server.

``modelyard import mlflow --tracking-uri URL`` submits the ``import.mlflow`` job to the server,
follows its progress and prints what it did (``--json``: the job's result); run it again to
import only what changed. The server reads the MLflow URL, so it must be reachable from the
server and allowed by its ``imports.mlflow_hosts`` setting. Exit 0 when the job succeeded,
1 when it failed, 3 when it was cancelled.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.cli._follow import exit_code, follow
from modelyard.cli._remote import Remote, remote

app = typer.Typer(help="Import another registry's models (mlflow) as a job.", no_args_is_help=True)


def _summary(remote: Remote, result: dict[str, Any]) -> None:
    out = remote.console
    models, versions, aliases = result["models"], result["versions"], result["aliases"]
    out.print(
        f"models: {models['created']} created, {models['updated']} updated, "
        f"{models['unchanged']} unchanged"
    )
    out.print(
        f"versions: {versions['created']} created, {versions['updated']} updated, "
        f"{versions['unchanged']} unchanged; {result['artifacts_imported']} model files imported"
    )
    out.print(
        f"aliases: {aliases['set']} set, {aliases['unchanged']} unchanged, "
        f"{aliases['refused']} refused"
    )
    for renamed in result["renamed"]:
        out.print(f"renamed: {renamed['mlflow']!r} -> {renamed['modelyard']}")
    for skipped in result["without_artifact"]:
        out.print(f"without its file: {skipped['model']}/{skipped['version']}: {skipped['reason']}")
    for refused in result["refused_aliases"]:
        out.print(f"alias not moved: {refused['model']}: {refused['error']}")
    for failure in result["failures"]:
        where = failure["model"] + (f"/{failure['version']}" if failure["version"] else "")
        remote.stderr.print(f"failed: {where}: {failure['error']}")


@remote(app, "mlflow")
def import_mlflow(
    remote: Remote,
    tracking_uri: Annotated[
        str, typer.Option("--tracking-uri", help="The MLflow tracking server's URL.")
    ],
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="An MLflow model name or pattern; repeat for several."),
    ] = None,
    priority: Annotated[str, typer.Option(help="low, normal, high, urgent or 0-100.")] = "normal",
) -> None:
    """Import an MLflow model registry: models, versions, aliases, run metrics and params,
    and the model files modelyard loads safely (scikit-learn saved as skops, ONNX)."""
    job = remote.client.jobs.submit(
        "import.mlflow",
        {"tracking_uri": tracking_uri, "models": model or []},
        priority=int(priority) if priority.isdigit() else priority,
    )
    done = follow(remote, job.id, f"import from {tracking_uri}")
    if done.status.value != "succeeded":
        remote.stderr.print(f"import job {done.id} {done.status.value}: {done.error or ''}")
    elif remote.as_json:
        remote.emit(done.result)
    else:
        _summary(remote, done.result or {})
    raise typer.Exit(exit_code(done.status))

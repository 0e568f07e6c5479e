"""``modelyard evaluations``: evaluate a version on a dataset as a job, follow it, compare.

``create --wait`` and ``wait`` end with the evaluation: exit 0 succeeded, 1 failed,
3 cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from modelyard.cli._follow import exit_code, follow
from modelyard.cli._remote import Column, Remote, key_values, remote

app = typer.Typer(
    help="Evaluations: create, wait with a progress bar, list, show, compare, cancel.",
    no_args_is_help=True,
)

HEADLINE = ("mae", "rmse", "mape", "r2", "accuracy", "f1", "roc_auc")
COLUMNS: list[Column] = [
    ("id", lambda e: e.id),
    ("model", lambda e: f"{e.model}/{e.version}"),
    ("dataset", lambda e: e.dataset.name),
    ("status", lambda e: e.status),
    ("progress", lambda e: f"{e.progress.fraction:.0%}"),
    *[(m, lambda e, m=m: e.metrics.get(m)) for m in HEADLINE[:4]],
    ("created", lambda e: e.created_at),
]
EvaluationId = Annotated[int, typer.Argument(min=1, help="The evaluation's id.")]


def _finish(remote: Remote, evaluation_id: int, job_id: int | None) -> None:
    if job_id is not None:
        follow(remote, job_id, f"evaluation {evaluation_id}")
    done = remote.client.evaluations.get(evaluation_id)
    remote.emit(done, _DETAIL)
    raise typer.Exit(exit_code(done.status))


_DETAIL: list[Column] = [
    ("id", lambda e: e.id),
    ("model", lambda e: f"{e.model}/{e.version}"),
    ("dataset", lambda e: f"{e.dataset.name} (id {e.dataset.id})"),
    ("target", lambda e: e.target),
    ("task", lambda e: e.task),
    ("status", lambda e: e.status),
    ("rows", lambda e: e.progress.rows_total),
    ("metrics", lambda e: {k: v for k, v in e.metrics.items() if v is not None}),
    ("error", lambda e: e.error),
    ("job", lambda e: e.job_id),
    ("finished", lambda e: e.finished_at),
]


@remote(app, "create")
def create(
    remote: Remote,
    model: Annotated[str, typer.Argument(help="`name`, `name/3` or `name@alias`.")],
    dataset: Annotated[str, typer.Argument(help="The dataset's id or name.")],
    target: Annotated[str, typer.Option(help="The column with the true values.")],
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="FEATURE=COLUMN where the names differ; repeat."),
    ] = None,
    slice_by: Annotated[
        str | None, typer.Option(help="Also compute the metrics per value of this column.")
    ] = None,
    task: Annotated[str | None, typer.Option(help="regression or classification.")] = None,
    priority: Annotated[str, typer.Option(help="low, normal, high, urgent or 0-100.")] = "normal",
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow it to the end with a progress bar.")
    ] = False,
) -> None:
    """Queue an evaluation of MODEL on DATASET (a job)."""
    created = remote.client.evaluations.create(
        model,
        dataset,
        target,
        features=key_values(feature or [], "--feature"),
        slice_by=slice_by,
        task=task,  # type: ignore[arg-type]
        priority=int(priority) if priority.isdigit() else priority,
    )
    if wait:
        _finish(remote, created.id, created.job_id)
    remote.done(
        f"evaluation {created.id} queued (job {created.job_id}); "
        f"follow it with `modelyard evaluations wait {created.id}`",
        created,
    )


@remote(app, "wait")
def wait(remote: Remote, evaluation_id: EvaluationId) -> None:
    """Follow an evaluation to its end with a progress bar, then show it."""
    evaluation = remote.client.evaluations.get(evaluation_id)
    _finish(remote, evaluation_id, None if evaluation.status in _ENDED else evaluation.job_id)


_ENDED = {"succeeded", "failed", "cancelled"}


@remote(app, "list")
def list_evaluations(
    remote: Remote,
    model: Annotated[str | None, typer.Option(help="`name`, `name/3` or `name@alias`.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A dataset id or name.")] = None,
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded ...")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List evaluations, newest first."""
    remote.emit(
        remote.client.evaluations.list(
            model=model,
            dataset=dataset,
            status=status,  # type: ignore[arg-type]
            limit=limit,
        ),
        COLUMNS,
    )


@remote(app, "show")
def show(remote: Remote, evaluation_id: EvaluationId) -> None:
    """Show an evaluation with its metrics."""
    evaluation = remote.client.evaluations.get(evaluation_id)
    remote.emit(evaluation, None if remote.as_json else _DETAIL)


@remote(app, "compare")
def compare(
    remote: Remote,
    evaluation_ids: Annotated[list[int], typer.Argument(help="Two or more evaluation ids.")],
) -> None:
    """Put evaluations' metrics side by side; * marks the better one on each."""
    comparison = remote.client.evaluations.compare(evaluation_ids)
    if remote.as_json:
        remote.emit(comparison)
        return
    heads = [f"{e.id}: {e.model}/{e.version} on {e.dataset.name}" for e in comparison.evaluations]
    order = [e.id for e in comparison.evaluations]
    columns: list[Column] = [("metric", lambda m: m.metric)]
    columns += [(head, _compared(index, order)) for index, head in enumerate(heads)]
    remote.emit(comparison.metrics, columns)


def _compared(index: int, order: list[int]) -> Callable[[Any], object]:
    def value(metric: Any) -> str:
        number = metric.values[index]
        if number is None:
            return "-"
        return f"{number:,.4g}" + (" *" if metric.best == order[index] else "")

    return value


@remote(app, "cancel")
def cancel(remote: Remote, evaluation_id: EvaluationId) -> None:
    """Cancel an evaluation (it stops after the chunk it is on)."""
    evaluation = remote.client.evaluations.cancel(evaluation_id)
    remote.done(f"evaluation {evaluation_id}: {evaluation.status}", evaluation)

"""``modelyard drift``: compare a current dataset with a reference, column by column (a job).

``create --wait`` and ``wait`` end with the check: exit 0 when it succeeded (whether or not
the data drifted; ``--fail-on-drift`` makes a drifted dataset exit 1), 1 failed,
3 cancelled.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.cli._errors import REFUSED
from modelyard.cli._follow import exit_code, follow
from modelyard.cli._remote import Column, Remote, remote

app = typer.Typer(help="Data drift checks: create, wait, list, show, cancel.", no_args_is_help=True)

COLUMNS: list[Column] = [
    ("id", lambda d: d.id),
    ("reference", lambda d: d.reference.name),
    ("current", lambda d: d.current.name),
    ("status", lambda d: d.status),
    ("drifted", lambda d: d.dataset_drifted),
    ("columns drifted", lambda d: d.summary.drifted_columns if d.summary else None),
    ("created", lambda d: d.created_at),
]
RESULT_COLUMNS: list[Column] = [
    ("column", lambda r: r.get("name")),
    ("kind", lambda r: r.get("kind")),
    ("method", lambda r: r.get("method")),
    ("statistic", lambda r: r.get("statistic")),
    ("p-value", lambda r: r.get("p_value")),
    ("threshold", lambda r: r.get("threshold")),
    ("drifted", lambda r: r.get("drifted")),
]
DriftId = Annotated[int, typer.Argument(min=1, help="The check's id.")]
FailOnDrift = Annotated[
    bool, typer.Option("--fail-on-drift", help="Exit 1 when the dataset drifted.")
]


def _show(remote: Remote, check: Any, fail_on_drift: bool = False) -> None:
    if remote.as_json:
        remote.emit(check)
    else:
        remote.emit(check, COLUMNS)
        if check.results:
            remote.emit(check.results, RESULT_COLUMNS)
    if fail_on_drift and check.dataset_drifted:
        raise typer.Exit(REFUSED)


@remote(app, "create")
def create(
    remote: Remote,
    reference: Annotated[str, typer.Argument(help="The reference dataset (id or name).")],
    current: Annotated[str, typer.Argument(help="The current dataset (id or name).")],
    column: Annotated[
        list[str] | None, typer.Option("--column", help="Only these columns; repeat.")
    ] = None,
    drift_share: Annotated[
        float, typer.Option(help="The dataset drifts when this share of columns do.")
    ] = 0.5,
    wait: Annotated[bool, typer.Option("--wait", help="Follow it to the end.")] = False,
    fail_on_drift: FailOnDrift = False,
) -> None:
    """Queue a drift check of CURRENT against REFERENCE."""
    created = remote.client.drift.create(
        reference, current, columns=column, drift_share=drift_share
    )
    if not wait:
        remote.done(f"drift check {created.id} queued (job {created.job_id})", created)
        return
    if created.job_id is not None:
        follow(remote, created.job_id, f"drift check {created.id}")
    check = remote.client.drift.get(created.id)
    _show(remote, check, fail_on_drift)
    raise typer.Exit(exit_code(check.status))


@remote(app, "wait")
def wait(remote: Remote, drift_id: DriftId, fail_on_drift: FailOnDrift = False) -> None:
    """Follow a drift check to its end, then show it."""
    check = remote.client.drift.get(drift_id)
    if check.job_id is not None and check.status in ("queued", "running"):
        follow(remote, check.job_id, f"drift check {drift_id}")
        check = remote.client.drift.get(drift_id)
    _show(remote, check, fail_on_drift)
    raise typer.Exit(exit_code(check.status))


@remote(app, "list")
def list_checks(
    remote: Remote,
    dataset: Annotated[str | None, typer.Option(help="Checks involving this dataset.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List drift checks, newest first."""
    remote.emit(remote.client.drift.list(dataset=dataset, limit=limit), COLUMNS)


@remote(app, "show")
def show(remote: Remote, drift_id: DriftId) -> None:
    """Show a drift check with each column's statistic and verdict."""
    _show(remote, remote.client.drift.get(drift_id))


@remote(app, "cancel")
def cancel(remote: Remote, drift_id: DriftId) -> None:
    """Cancel a drift check (it stops at its next batch)."""
    check = remote.client.drift.cancel(drift_id)
    remote.done(f"drift check {drift_id}: {check.status}", check)

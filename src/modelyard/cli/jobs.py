"""``modelyard jobs``: list, show (``--follow`` for a live progress bar), cancel, retry, kinds.

Against a server: admins see every job, others their own. ``show --follow`` ends with the
job: exit 0 succeeded, 1 failed, 3 cancelled.
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._follow import exit_code, follow, progress_text
from modelyard.cli._remote import Column, Remote, remote

app = typer.Typer(help="Background jobs: list, show, follow, cancel, retry.", no_args_is_help=True)

COLUMNS: list[Column] = [
    ("id", lambda j: j.id),
    ("kind", lambda j: j.kind),
    ("status", lambda j: j.status),
    ("priority", lambda j: j.priority),
    ("attempts", lambda j: j.attempts),
    ("progress", lambda j: _progress(j)),
    ("user", lambda j: j.submitted_by),
    ("created", lambda j: j.created_at),
]
JobId = Annotated[int, typer.Argument(min=1, help="The job's id.")]


def _progress(job: object) -> str:
    fraction = job.progress.fraction  # type: ignore[attr-defined]
    text = progress_text(job)  # type: ignore[arg-type]
    return (f"{fraction:.0%} " if fraction is not None else "") + text


@remote(app, "list")
def list_jobs(
    remote: Remote,
    status: Annotated[
        list[str] | None,
        typer.Option(help="queued, running, succeeded, failed, cancelled; repeat for several."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this submitter (admins).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List jobs, newest first."""
    jobs = remote.client.jobs.list(status=status, kind=kind, user=user, limit=limit)
    remote.emit(jobs, COLUMNS)


@remote(app, "show")
def show(
    remote: Remote,
    job_id: JobId,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Live progress until it ends.")
    ] = False,
) -> None:
    """Show a job; with --follow, a progress bar until it ends (exit 0 succeeded, 1 failed,
    3 cancelled)."""
    job = remote.client.jobs.get(job_id)
    if follow_ and not job.status.terminal:
        job = follow(remote, job_id, f"job {job_id} ({job.kind})")
    remote.emit(job)
    if follow_:
        raise typer.Exit(exit_code(job.status))


@remote(app, "cancel")
def cancel(remote: Remote, job_id: JobId) -> None:
    """Cancel a job: a queued one never starts, a running one stops at its next checkpoint."""
    job = remote.client.jobs.cancel(job_id)
    if job.status.value == "cancelled":
        remote.done(f"job {job_id} cancelled", job)
    else:
        remote.done(f"job {job_id} is running; it stops at its next checkpoint", job)


@remote(app, "retry")
def retry(remote: Remote, job_id: JobId) -> None:
    """Queue a failed or cancelled job again."""
    remote.done(f"job {job_id} queued again", remote.client.jobs.retry(job_id))


@remote(app, "kinds")
def kinds(remote: Remote) -> None:
    """The kinds of job the server runs, and who may submit each."""
    remote.emit(
        remote.client.jobs.kinds(),
        [
            ("kind", lambda k: k.name),
            ("least role", lambda k: k.min_role),
            ("retried", lambda k: k.max_retries if k.retryable else 0),
            ("time limit s", lambda k: k.timeout_seconds),
            ("description", lambda k: k.description),
        ],
    )

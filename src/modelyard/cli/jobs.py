"""``modelyard jobs``: list, show (``--follow`` for a live progress bar), cancel, retry.

The commands act on the configured database as the operator (every job, no role check);
cancel and retry are recorded in the audit log with the actor ``cli``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from modelyard.config import get_settings
from modelyard.jobs import service
from modelyard.jobs.runtime import JobRuntime
from modelyard.jobs.schemas import TERMINAL, JobOut, JobStatus
from modelyard.kit.db import Database
from modelyard.kit.errors import ProblemError

app = typer.Typer(help="Background jobs: list, show, follow, cancel, retry.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

EXIT_CODES = {JobStatus.succeeded: 0, JobStatus.failed: 1, JobStatus.cancelled: 3}


@contextmanager
def _session() -> Iterator[Session]:
    """A session whose commits reach the queue (retry) and live streams (cancel)."""
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    runtime = JobRuntime(settings, db).register()
    try:
        with db.session() as session:
            yield session
    finally:
        runtime.stop(grace_seconds=0)
        db.dispose()


def _fail(exc: ProblemError) -> typer.Exit:
    err.print(f"[red]{exc.detail}[/]")
    return typer.Exit(1)


def _progress_text(job: JobOut) -> str:
    p = job.progress
    parts = []
    if p.fraction is not None:
        parts.append(f"{p.fraction:.0%}")
    if p.phase:
        parts.append(p.phase)
    if p.message:
        parts.append(p.message)
    if p.eta_seconds is not None and job.status == JobStatus.running:
        parts.append(f"ETA {p.eta_seconds:.0f}s")
    return " ".join(parts)


@app.command("list")
def list_jobs(
    status: Annotated[list[JobStatus] | None, typer.Option(help="Repeat for several.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this submitter.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List jobs, newest first."""
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            items, _ = service.list_jobs(
                session,
                None,
                statuses=[s.value for s in status or []],
                kind=kind,
                user=user,
                limit=limit,
            )
    finally:
        db.dispose()
    table = Table("id", "kind", "status", "priority", "attempts", "progress", "user", "created")
    for item in items:
        job = JobOut.model_validate(item)
        table.add_row(
            str(job.id),
            job.kind,
            job.status.value,
            str(job.priority),
            str(job.attempts),
            _progress_text(job),
            job.submitted_by or "-",
            job.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def _load(db: Database, job_id: int) -> JobOut:
    with db.session() as session:
        return service.get(session, job_id)


@app.command("show")
def show(
    job_id: int,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Live progress until it ends.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON.")] = False,
) -> None:
    """Show a job; with --follow, a live progress bar until it ends (exit 0 succeeded,
    1 failed, 3 cancelled)."""
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        try:
            job = _load(db, job_id)
        except ProblemError as exc:
            raise _fail(exc) from exc
        if follow and job.status not in TERMINAL:
            job = _follow(db, job)
    finally:
        db.dispose()
    if as_json:
        console.print_json(orjson.dumps(job.model_dump()).decode())
    else:
        _print_job(job)
    if follow:
        raise typer.Exit(EXIT_CODES.get(job.status, 0))


def _follow(db: Database, job: JobOut) -> JobOut:
    columns = (
        TextColumn("job {task.fields[job_id]} [bold]{task.fields[status]}[/]"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("", total=1.0, job_id=job.id, status=job.status.value)
        while True:
            fraction = job.progress.fraction
            bar.update(
                task,
                completed=fraction if fraction is not None else 0.0,
                description=_progress_text(job),
                status=job.status.value,
            )
            if job.status in TERMINAL:
                return job
            time.sleep(0.2)
            job = _load(db, job.id)


def _print_job(job: JobOut) -> None:
    table = Table(show_header=False, box=None)
    rows: list[tuple[str, Any]] = [
        ("id", job.id),
        ("kind", job.kind),
        (
            "status",
            job.status.value
            + (
                " (cancel requested)"
                if job.cancel_requested and job.status == JobStatus.running
                else ""
            ),
        ),
        ("priority", job.priority),
        ("submitted by", job.submitted_by or "system"),
        ("attempts", job.attempts),
        ("progress", _progress_text(job) or "-"),
        ("created", job.created_at.isoformat(timespec="seconds")),
        ("started", job.started_at.isoformat(timespec="seconds") if job.started_at else "-"),
        ("finished", job.finished_at.isoformat(timespec="seconds") if job.finished_at else "-"),
        ("params", orjson.dumps(job.params).decode()),
    ]
    if job.result is not None:
        rows.append(("result", orjson.dumps(job.result).decode()))
    if job.error:
        rows.append(("error", job.error))
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", str(value))
    console.print(table)


@app.command("cancel")
def cancel(job_id: int) -> None:
    """Cancel a job: a queued one never starts, a running one stops at its next checkpoint."""
    try:
        with _session() as session:
            job = service.cancel(session, job_id, None)
    except ProblemError as exc:
        raise _fail(exc) from exc
    if job.status == JobStatus.cancelled:
        console.print(f"job {job_id} cancelled")
    else:
        console.print(f"job {job_id} is running; it stops at its next checkpoint")


@app.command("retry")
def retry(job_id: int) -> None:
    """Queue a failed or cancelled job again."""
    try:
        with _session() as session:
            service.retry(session, job_id, None)
    except ProblemError as exc:
        raise _fail(exc) from exc
    console.print(f"job {job_id} queued again")

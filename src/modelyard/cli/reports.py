"""``modelyard reports``: the weekly performance report, list, show, download."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli._follow import exit_code, follow
from modelyard.cli._remote import Column, Remote, remote

app = typer.Typer(help="Reports: build the weekly report, list, download.", no_args_is_help=True)

COLUMNS: list[Column] = [
    ("id", lambda r: r.id),
    ("kind", lambda r: r.kind),
    ("title", lambda r: r.title),
    ("from", lambda r: r.period_start),
    ("to", lambda r: r.period_end),
    ("files", lambda r: " ".join(sorted(r.files))),
    ("created", lambda r: r.created_at),
]
ReportId = Annotated[int, typer.Argument(min=1, help="The report's id.")]


@remote(app, "weekly")
def weekly(
    remote: Remote,
    end: Annotated[
        str | None, typer.Option(help="The last day, YYYY-MM-DD (default today).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=92, help="How many days.")] = 7,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job to its end.")] = False,
) -> None:
    """Build the weekly performance report (a job)."""
    queued = remote.client.reports.create_weekly(end=end, days=days)
    if not wait:
        remote.done(f"report job {queued.job_id} queued", queued)
        return
    job = follow(remote, queued.job_id, f"report job {queued.job_id}")
    remote.emit(job)
    raise typer.Exit(exit_code(job.status))


@remote(app, "list")
def list_reports(
    remote: Remote,
    kind: Annotated[str | None, typer.Option(help="weekly, ...")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """List reports, newest first."""
    remote.emit(remote.client.reports.list(kind=kind, limit=limit), COLUMNS)


@remote(app, "show")
def show(remote: Remote, report_id: ReportId) -> None:
    """Show a report's summary."""
    remote.emit(remote.client.reports.get(report_id))


@remote(app, "download")
def download(
    remote: Remote,
    report_id: ReportId,
    format: Annotated[str, typer.Argument(help="json, html, png or pdf.")],
    destination: Annotated[Path | None, typer.Argument(help="The file to write.")] = None,
) -> None:
    """Download one of a report's files."""
    target = destination or Path(f"report-{report_id}.{format}")
    size = remote.client.reports.download(report_id, format, target)  # type: ignore[arg-type]
    remote.done(f"wrote {target} ({size:,} bytes)", {"path": str(target), "size": size})

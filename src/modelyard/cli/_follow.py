"""Following a job to its end with a progress bar: jobs, evaluations, drift checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.cli._errors import CANCELLED, OK, REFUSED

if TYPE_CHECKING:
    from modelyard.cli._remote import Remote
    from modelyard.jobs.schemas import JobOut

EXIT_CODES = {"succeeded": OK, "failed": REFUSED, "cancelled": CANCELLED}


def progress_text(job: JobOut) -> str:
    p = job.progress
    parts = []
    if p.phase:
        parts.append(p.phase)
    if p.message:
        parts.append(p.message)
    if p.eta_seconds is not None and job.status.value == "running":
        parts.append(f"ETA {p.eta_seconds:.0f}s")
    return " ".join(parts)


def follow(remote: Remote, job_id: int, label: str) -> JobOut:
    """Draw the job's progress until it ends; returns its last state."""
    with remote.progress() as bar:
        task = bar.add_task(label, total=1.0, detail="queued")

        def draw(job: JobOut) -> None:
            fraction = job.progress.fraction
            bar.update(
                task,
                completed=fraction if fraction is not None else 0.0,
                detail=f"{job.status.value} {progress_text(job)}".strip(),
            )

        job = remote.client.jobs.wait(job_id, progress=draw)
        if job.status.value == "succeeded":
            bar.update(task, completed=1.0)
    return job


def exit_code(status: Any) -> int:
    return EXIT_CODES.get(str(getattr(status, "value", status)), OK)

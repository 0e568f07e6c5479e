"""Running one job: claim the row, call the kind's function, record how it ended.

A Huey message only says "run job N". The worker turns it into a run by moving the row
from ``queued`` to ``running`` with one conditional update (so a duplicate message, a
cancelled job or a retry that is not due yet simply does nothing), then calls the function
with a :class:`JobContext`, and ends the run with another conditional update that holds only
while this worker still owns this attempt.

Outcomes: a return value -> ``succeeded`` (the value must be JSON); :class:`JobCancelled` ->
``cancelled``; :class:`WorkerStopping` -> back to ``queued`` without spending a retry;
:class:`JobTimedOut` or any other exception -> a retry after a backoff when the kind is
retryable and retries are left, else ``failed`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.jobs import repository as repo
from modelyard.jobs._metrics import JOB_SECONDS, JOBS_ENDED, JOBS_RUNNING
from modelyard.jobs.context import (
    Interrupt,
    JobCancelled,
    JobContext,
    JobFailed,
    JobSuperseded,
    JobTimedOut,
    WorkerStopping,
)
from modelyard.jobs.kinds import get_kind
from modelyard.jobs.schemas import JobStatus
from modelyard.kit.time import utcnow

if TYPE_CHECKING:
    from modelyard.jobs.runtime import JobRuntime

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 600.0
MAX_ERROR_CHARS = 4000


class JobExecution:
    """The worker's side of one running attempt: progress, checkpoints, interruption."""

    def __init__(self, runtime: JobRuntime, row: Any) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.job_id: int = row.id
        self.attempt: int = row.attempts
        self.kind: str = row.kind
        self.priority: int = row.priority
        self.retries_left: int = row.retries_left
        self.submitted_by_id: int | None = row.submitted_by_id
        self.state = repo.to_dict(row)
        self.progress: dict[str, Any] = dict(self.state["progress"])
        self.interrupt = Interrupt()
        self.outcome = "superseded"
        """How this attempt ended, for the job metrics (set where it ends)."""
        self.flush_seconds = runtime.settings.jobs.progress_flush_seconds
        self.started = time.monotonic()
        self.last_flush = self.started
        self.timeout: float | None = row.timeout_seconds
        self.deadline = self.started + self.timeout if self.timeout else None

    # -- called from the job's thread through JobContext ------------------------------------

    def report(
        self,
        fraction: float | None,
        phase: str | None,
        message: str | None,
        eta_seconds: float | None,
    ) -> None:
        self._check_local()
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            if fraction == fraction:  # not NaN
                self.progress["fraction"] = fraction
        if phase is not None:
            self.progress["phase"] = str(phase)[:64]
        if message is not None:
            self.progress["message"] = str(message)[:500]
        if eta_seconds is None:
            eta_seconds = self._estimate_eta()
        self.progress["eta_seconds"] = eta_seconds
        now = utcnow()
        self.state["progress"] = dict(self.progress)
        self.state["updated_at"] = now
        self.runtime.publish_state(self.state)
        if time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def checkpoint(self) -> None:
        self._check_local()
        if time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def wait(self, seconds: float) -> None:
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.checkpoint()
            now = time.monotonic()
            remaining = end - now
            if remaining <= 0:
                return
            step = min(remaining, self.flush_seconds)
            if self.deadline is not None:
                step = min(step, max(self.deadline - now, 0.0) + 0.001)
            self.interrupt.event.wait(step)

    def _estimate_eta(self) -> float | None:
        fraction: float | None = self.progress.get("fraction")
        if not fraction or fraction <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return round(elapsed * (1 - fraction) / fraction, 3)

    def _check_local(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.interrupt.set(JobTimedOut, f"timed out after {self.timeout:g} s")
        self.interrupt.raise_if_set()

    def flush(self) -> None:
        """Write progress (the heartbeat) and read back a cancel from any process."""
        self.last_flush = time.monotonic()
        with self.db.session() as session:
            owned, cancel = repo.write_progress(
                session, self.job_id, self.runtime.worker_id, self.attempt, utcnow(), self.progress
            )
        if not owned:
            self.interrupt.set(JobSuperseded, "this worker no longer owns the job")
        elif cancel:
            self.interrupt.set(JobCancelled, "cancelled on request")
        self.interrupt.raise_if_set()


def run_job(runtime: JobRuntime, job_id: int) -> None:
    """The body of the one Huey task: run job ``job_id`` if it is still queued and due."""
    with runtime.db.session() as session:
        row = repo.claim(session, job_id, runtime.queue_name, runtime.worker_id, utcnow())
    if row is None:
        return
    execution = JobExecution(runtime, row)
    runtime.running[job_id] = execution
    if runtime.stopping:  # claimed while the worker began to stop
        execution.interrupt.set(WorkerStopping, "the worker is shutting down")
    JOBS_RUNNING.inc()
    try:
        runtime.publish_state(execution.state)
        _execute(runtime, execution, row)
    finally:
        runtime.running.pop(job_id, None)
        JOBS_RUNNING.dec()
        JOB_SECONDS.labels(execution.kind).observe(time.monotonic() - execution.started)
        JOBS_ENDED.labels(execution.kind, execution.outcome).inc()


def _execute(runtime: JobRuntime, execution: JobExecution, row: Any) -> None:
    kind = get_kind(row.kind)
    if kind is None:
        _end(
            runtime,
            execution,
            JobStatus.failed,
            error=(
                f"No worker here knows job kind '{row.kind}'; its tasks module must be "
                "imported by modelyard.tasks."
            ),
        )
        return
    ctx = JobContext(
        execution,
        job_id=row.id,
        kind=row.kind,
        attempt=row.attempts,
        params=dict(row.params or {}),
        submitted_by_id=row.submitted_by_id,
        submitted_by_name=row.submitted_by,
        settings=runtime.settings,
        store=runtime.store,
    )
    try:
        result = kind.func(ctx, dict(row.params or {}))
        execution.interrupt.raise_if_set()  # the job swallowed an interruption
    except WorkerStopping:
        _back_to_queue(runtime, execution)
    except JobSuperseded:
        logger.info("job %s: attempt %s was handed to another worker", row.id, row.attempts)
    except JobTimedOut as exc:
        _failure(runtime, execution, f"Timed out: {exc}")
    except JobCancelled:
        _end(runtime, execution, JobStatus.cancelled, error="cancelled on request")
    except JobFailed as exc:
        _end(runtime, execution, JobStatus.failed, error=str(exc)[:MAX_ERROR_CHARS])
    except Exception as exc:
        logger.exception("job %s (%s) attempt %s failed", row.id, row.kind, row.attempts)
        _failure(runtime, execution, describe(exc))
    else:
        try:
            orjson.dumps(result)
        except TypeError as exc:
            _end(runtime, execution, JobStatus.failed, error=f"The result is not JSON: {exc}")
            return
        if execution.progress.get("fraction") is not None:
            execution.progress.update(fraction=1.0, eta_seconds=0.0)
        _end(runtime, execution, JobStatus.succeeded, result=result)


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_CHARS]


def backoff_seconds(base: float, attempt: int) -> float:
    return min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS) if base > 0 else 0.0


def _end(
    runtime: JobRuntime,
    execution: JobExecution,
    status: JobStatus,
    *,
    result: Any = None,
    error: str | None = None,
) -> None:
    execution.outcome = status.value
    with runtime.db.session() as session:
        row = repo.finish(
            session,
            execution.job_id,
            runtime.worker_id,
            execution.attempt,
            utcnow(),
            status=status,
            result=result,
            error=error,
            progress=execution.progress,
        )
    if row is not None:
        runtime.publish_row(row)


def _failure(runtime: JobRuntime, execution: JobExecution, error: str) -> None:
    if execution.retries_left <= 0:
        kind = get_kind(execution.kind)
        if kind is not None and kind.retryable and kind.max_retries:
            error += f" (gave up after {execution.attempt} attempts)"
        _end(runtime, execution, JobStatus.failed, error=error)
        return
    execution.outcome = "retried"
    delay = backoff_seconds(runtime.settings.jobs.retry_backoff_seconds, execution.attempt)
    now = utcnow()
    run_after = now + dt.timedelta(seconds=delay) if delay else None
    note = f"attempt {execution.attempt} failed: {error}; retrying"
    if delay:
        note += f" in {delay:g} s"
    with runtime.db.session() as session:
        rank = repo.fair_rank(
            session, runtime.queue_name, execution.submitted_by_id, execution.priority
        )
        row = repo.requeue(
            session,
            execution.job_id,
            now,
            condition=repo.owned_by(execution.job_id, runtime.worker_id, execution.attempt),
            run_after=run_after,
            error=note[:MAX_ERROR_CHARS],
            spend_retry=True,
            fair_rank=rank,
        )
    if row is not None:
        runtime.enqueue(row.id, row.priority, row.fair_rank, delay=delay)
        runtime.publish_row(row)


def _back_to_queue(runtime: JobRuntime, execution: JobExecution) -> None:
    execution.outcome = "requeued"
    with runtime.db.session() as session:
        row = repo.requeue(
            session,
            execution.job_id,
            utcnow(),
            condition=repo.owned_by(execution.job_id, runtime.worker_id, execution.attempt),
            run_after=None,
            error=None,
            spend_retry=False,
        )
    if row is not None:
        runtime.enqueue(row.id, row.priority, row.fair_rank)
        runtime.publish_row(row)


class Doorbell:
    """Wakes idle workers when this process enqueues (no lost wake-ups)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rings = 0

    @property
    def rings(self) -> int:
        return self._rings

    def ring(self) -> None:
        with self._cond:
            self._rings += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        with self._cond:
            if self._rings == seen:
                self._cond.wait(timeout)


def worker_loop(runtime: JobRuntime, stop: threading.Event) -> None:
    """One worker thread: take the next message and run it, until ``stop`` is set."""
    huey = runtime.huey
    blocking = bool(getattr(huey.storage, "blocking", False))
    while not stop.is_set():
        seen = runtime.doorbell.rings
        try:
            task = huey.dequeue()
        except Exception as exc:
            stop.wait(runtime.queue_outage.failed(exc))
            continue
        runtime.queue_outage.succeeded()
        if task is None:
            if not blocking:
                runtime.doorbell.wait(seen, runtime.settings.jobs.poll_seconds)
            continue
        try:
            huey.execute(task)
        except Exception:
            logger.exception("running queue message %s failed", task.id)

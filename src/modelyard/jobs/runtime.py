"""One process's job machinery for one database: queue, events, workers, reaper.

``modelyard serve`` (through the app lifespan, as ``app.state.jobs``) and ``modelyard worker``
each start a :class:`JobRuntime`; code that only submits or cancels (the demo loader, a
benchmark) makes one without threads. It is passed to whoever submits: endpoints get the
app's through the ``Jobs`` dependency (:mod:`modelyard.jobs.deps`), a running job gets the
one it runs in as ``ctx.jobs``, and ``jobs.service.submit(session, jobs, ...)`` takes it as
an argument. Nothing finds a runtime through a process-wide registry, so two apps in one
process (the tests run several) each have their own queue, events and workers.

Handing a job to the queue waits for the submitter's transaction to commit
(:func:`modelyard.kit.db.after_commit`): a rolled-back request leaves no job, and a worker
never sees a row it cannot read. If the process dies between the commit and the enqueue,
the reaper's reconciliation enqueues the ``queued`` row it finds missing from the queue.

Threads started by :meth:`JobRuntime.start`: N workers (``worker_loop``) and one
housekeeper that moves due retries from Huey's schedule to the queue, beats for the jobs
running here, and reaps: running jobs whose worker stopped beating for
``jobs.stale_after_seconds`` go back to the queue (spending a retry) or fail with the
reason; jobs past their time limit that never reached a checkpoint fail; queued rows missing
from the queue are enqueued again. Every one of these is a conditional update, so any
number of processes may reap at once. No signal handler is installed: the server's own
SIGTERM handling stays in charge, and :meth:`stop` is called from the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import anyio
import psutil
from sqlalchemy.orm import Session

from modelyard.config import Settings
from modelyard.jobs import repository as repo
from modelyard.jobs.context import WorkerStopping
from modelyard.jobs.events import RESYNC_LIMIT, Broadcaster, JobEvent
from modelyard.jobs.kinds import get_kind
from modelyard.jobs.queue import backend_name, create_huey, job_id_of, queue_priority
from modelyard.jobs.worker import Doorbell, JobExecution, run_job, worker_loop
from modelyard.kit.backoff import Outage, describe_error
from modelyard.kit.db import Database, after_commit
from modelyard.kit.time import utcnow
from modelyard.storage import BlobStore, open_store

if TYPE_CHECKING:
    from modelyard.cache import Cache

logger = logging.getLogger(__name__)


class JobRuntime:
    """The queue, the events and the workers of one process for one database.

    ``store`` is the blob store jobs read and write files in (``ctx.store``); ``cache`` the
    process's shared cache, handed to the jobs it runs (``ctx.cache``)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: BlobStore | None = None,
        *,
        cache: Cache | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store if store is not None else open_store(settings)
        self.cache = cache
        self.queue_name = settings.jobs.queue_name
        self.backend = backend_name(settings)
        self.huey = create_huey(settings)
        self._task = self.huey.task(name="run_job")(self._run_job_message)
        self.events = Broadcaster(settings.redis_url, f"modelyard.jobs.{self.queue_name}")
        self.events.add_listener(self._on_event)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.doorbell = Doorbell()
        # Shared by the worker threads and the housekeeper: while the queue (Redis) or the
        # database is away they back off together and log one line per step.
        self.queue_outage = Outage(f"the {self.backend} job queue", logger)
        self.housekeeping_outage = Outage("job housekeeping", logger, traceback=True)
        self.running: dict[int, JobExecution] = {}
        self.workers = 0
        self._stop = threading.Event()
        self._worker_threads: list[threading.Thread] = []
        self._housekeeper: threading.Thread | None = None
        self._restore_signals: Callable[[], None] = lambda: None
        # Set when the queue was away at start: the housekeeper then reconciles every queued
        # row (not only those older than ``stale_after``) as soon as the queue answers.
        self._reconcile_all = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, workers: int, *, reaper: bool = True) -> JobRuntime:
        """Re-enqueue queued jobs missing from the queue, start the threads."""
        self.workers = workers
        self.recover_dead_local_workers()
        try:
            self.reconcile(min_age_seconds=0)
        except Exception as exc:
            # Redis away at start: queued rows stay in the jobs table, and the housekeeper
            # enqueues them once the queue answers.
            self._reconcile_all = True
            logger.warning(
                "the job queue is unavailable at start (%s); queued jobs are enqueued when "
                "it is back",
                describe_error(exc),
            )
        for index in range(workers):
            thread = threading.Thread(
                target=worker_loop,
                args=(self, self._stop),
                name=f"modelyard-job-worker-{index + 1}",
                daemon=True,
            )
            thread.start()
            self._worker_threads.append(thread)
        self._housekeeper = threading.Thread(
            target=self._housekeeping, args=(reaper,), name="modelyard-job-housekeeper", daemon=True
        )
        self._housekeeper.start()
        logger.info(
            "job runtime %s: %d workers on the %s queue %r",
            self.worker_id,
            workers,
            self.backend,
            self.queue_name,
        )
        return self

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def begin_stop(self) -> None:
        """Stop taking jobs and ask running ones to stop at their next checkpoint."""
        self._stop.set()
        self.doorbell.ring()
        for execution in list(self.running.values()):
            execution.interrupt.set(WorkerStopping, "the worker is shutting down")

    def stop(self, grace_seconds: float | None = None) -> None:
        """Stop taking jobs; running ones re-queue at their next checkpoint (or after grace)."""
        grace = (
            self.settings.jobs.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        )
        self.begin_stop()
        deadline = time.monotonic() + grace
        for thread in self._worker_threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        for job_id, execution in list(self.running.items()):
            logger.warning(
                "job %s did not reach a checkpoint within %g s; re-queuing it", job_id, grace
            )
            self._requeue_abandoned(execution)
        if self._housekeeper is not None:
            self._housekeeper.join(5)
        try:
            self.huey.storage.close()
        except Exception:
            logger.debug("closing the queue storage failed", exc_info=True)
        self.events.close()

    # -- queue -----------------------------------------------------------------------------

    def _run_job_message(self, job_id: int) -> None:
        run_job(self, job_id)

    def enqueue(self, job_id: int, priority: int, fair_rank: int, delay: float = 0.0) -> None:
        task = self._task.s(job_id, priority=queue_priority(priority, fair_rank))
        if delay > 0:
            task.eta = self.huey._get_timestamp() + dt.timedelta(seconds=delay)
            self.huey.add_schedule(task)
        else:
            self.huey.enqueue(task)
        self.doorbell.ring()

    def after_commit(self, session: Session, action: Callable[[], None]) -> None:
        """Run ``action`` once ``session``'s transaction has committed (never on rollback)."""
        after_commit(session, action)

    # -- events ----------------------------------------------------------------------------

    def publish_state(self, state: dict[str, Any]) -> None:
        self.events.publish(JobEvent.from_state(state))

    def publish_row(self, row: Any) -> None:
        self.events.publish(JobEvent.from_state(repo.to_dict(row)))

    def _on_event(self, event: JobEvent) -> None:
        if event.cancel_requested:
            execution = self.running.get(event.job_id)
            if execution is not None:
                from modelyard.jobs.context import JobCancelled

                execution.interrupt.set(JobCancelled, "cancelled on request")

    # -- housekeeping ----------------------------------------------------------------------

    @property
    def stale_after(self) -> float:
        return self.settings.jobs.stale_after_seconds

    def _housekeeping(self, reaper: bool) -> None:
        beat_every = max(self.stale_after / 4, 0.05)
        reap_every = max(self.stale_after / 2, 0.1)
        schedule_every = 0.5
        next_beat = next_reap = next_schedule = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            acted = now >= min(next_schedule, next_beat, next_reap if reaper else next_beat)
            try:
                if now >= next_schedule:
                    next_schedule = now + schedule_every
                    self.move_due_retries()
                    if self._reconcile_all:
                        self.reconcile(min_age_seconds=0)
                        self._reconcile_all = False
                if now >= next_beat:
                    next_beat = now + beat_every
                    self.beat()
                if reaper and now >= next_reap:
                    next_reap = now + reap_every
                    self.reap()
            except Exception as exc:
                delay = self.housekeeping_outage.failed(exc)
                next_beat = max(next_beat, now + delay)
                next_schedule = max(next_schedule, now + delay)
                next_reap = max(next_reap, now + delay)
            else:
                if acted:
                    self.housekeeping_outage.succeeded()
            self._stop.wait(
                max(
                    min(next_beat, next_schedule, next_reap if reaper else next_beat)
                    - time.monotonic(),
                    0.01,
                )
            )

    def move_due_retries(self) -> int:
        tasks = self.huey.read_schedule()
        for task in tasks:
            self.huey.enqueue(task)
        if tasks:
            self.doorbell.ring()
        return len(tasks)

    def beat(self) -> None:
        if self.running:
            with self.db.session() as session:
                repo.beat(session, self.worker_id, list(self.running), utcnow())

    def reap(self) -> None:
        self.recover_stale()
        self.fail_overdue()
        self.reconcile(min_age_seconds=self.stale_after)

    def recover_stale(self) -> int:
        """Running jobs whose worker stopped beating: re-queue (spending a retry) or fail."""
        now = utcnow()
        cutoff = now - dt.timedelta(seconds=self.stale_after)
        with self.db.session() as session:
            stale = repo.stale_running(session, self.queue_name, cutoff)
        recovered = 0
        for row in stale:
            reason = (
                f"the worker {row.worker} stopped responding "
                f"(no heartbeat for {self.stale_after:g} s) during attempt {row.attempts}"
            )
            recovered += self._recover(row, repo.stale_since(row.id, cutoff), reason, now)
        return recovered

    def recover_dead_local_workers(self) -> int:
        """At start: jobs left running by a process of this host that no longer exists
        (a crash or ``kill -9`` before a restart) are recovered at once, without waiting
        for their heartbeat to go stale. A live or unknown process is left to the reaper."""
        host, my_pid = socket.gethostname(), os.getpid()
        now = utcnow()
        with self.db.session() as session:
            rows = repo.running(session, self.queue_name)
        recovered = 0
        for row in rows:
            owner_host, _, rest = (row.worker or "").partition(":")
            pid_text, _, _token = rest.partition(":")
            if owner_host != host or not pid_text.isdigit() or row.worker == self.worker_id:
                continue
            pid = int(pid_text)
            if pid != my_pid and psutil.pid_exists(pid):
                continue
            reason = (
                f"its worker {row.worker} is gone (found at start) during attempt {row.attempts}"
            )
            recovered += self._recover(
                row, repo.owned_by(row.id, row.worker, row.attempts), reason, now
            )
        return recovered

    def _recover(self, row: Any, condition: Any, reason: str, now: dt.datetime) -> int:
        with self.db.session() as session:
            if row.retries_left > 0:
                rank = repo.fair_rank(session, self.queue_name, row.submitted_by_id, row.priority)
                new = repo.requeue(
                    session,
                    row.id,
                    now,
                    condition=condition,
                    run_after=None,
                    error=f"{reason}; re-queued",
                    spend_retry=True,
                    fair_rank=rank,
                )
            else:
                kind = get_kind(row.kind)
                why = (
                    f"job kind '{row.kind}' is not retried automatically"
                    if kind is None or not kind.retryable
                    else "no automatic retries are left"
                )
                new = repo.fail_if(session, condition, now, f"Worker lost: {reason}; {why}.")
        if new is None:
            return 0
        logger.warning("job %s: %s -> %s", row.id, reason, new.status)
        if new.status == "queued":
            self.enqueue(new.id, new.priority, new.fair_rank)
        self.publish_row(new)
        return 1

    def fail_overdue(self) -> int:
        """Fail running jobs past their time limit that never reached a checkpoint."""
        now = utcnow()
        grace = dt.timedelta(seconds=self.stale_after)
        failed = 0
        with self.db.session() as session:
            rows = repo.running_with_timeout(session, self.queue_name)
        for row in rows:
            if (
                row.started_at is None
                or row.started_at + dt.timedelta(seconds=row.timeout_seconds) + grace > now
            ):
                continue
            with self.db.session() as session:
                new = repo.fail_if(
                    session,
                    repo.owned_by(row.id, row.worker, row.attempts),
                    now,
                    f"Timed out: ran past its {row.timeout_seconds:g} s limit without reaching a checkpoint.",
                )
            if new is not None:
                failed += 1
                self.publish_row(new)
        return failed

    def reconcile(self, min_age_seconds: float) -> int:
        """Enqueue queued rows (older than ``min_age_seconds``) that the queue has lost."""
        now = utcnow()
        with self.db.session() as session:
            rows = repo.queued_before(
                session, self.queue_name, now - dt.timedelta(seconds=min_age_seconds), limit=50_000
            )
        if not rows:
            return 0
        present = {job_id_of(t) for t in self.huey.pending()}
        present |= {job_id_of(t) for t in self.huey.scheduled()}
        missing = [r for r in rows if r.id not in present]
        for row in missing:
            delay = 0.0
            if row.run_after is not None:
                delay = max((row.run_after - now).total_seconds(), 0.0)
            self.enqueue(row.id, row.priority, row.fair_rank, delay=delay)
        if missing:
            logger.info("re-enqueued %d queued jobs missing from the queue", len(missing))
        return len(missing)

    def changed_since(self, after: dt.datetime) -> list[dict[str, Any]]:
        """Job states updated after ``after`` (every user's): the event streams' resync."""
        with self.db.session() as session:
            rows = repo.changed_since(session, after, None, RESYNC_LIMIT)
        return [repo.to_dict(r) for r in rows]

    def _requeue_abandoned(self, execution: JobExecution) -> None:
        with self.db.session() as session:
            row = repo.requeue(
                session,
                execution.job_id,
                utcnow(),
                condition=repo.owned_by(execution.job_id, self.worker_id, execution.attempt),
                run_after=None,
                error="interrupted by a worker shutdown",
                spend_retry=False,
            )
        if row is not None:
            self.enqueue(row.id, row.priority, row.fair_rank)
            self.publish_row(row)


async def start_embedded(
    settings: Settings, db: Database, *, store: BlobStore | None, cache: Cache | None
) -> JobRuntime:
    """The app lifespan's start hook: ``jobs.workers`` worker threads in this server
    process, the reaper and the event listener. Pair with :func:`stop_embedded`.

    Servers drain open connections before they run the lifespan's shutdown, and SSE streams
    never end by themselves; so a SIGTERM/SIGINT handler is chained in front of the
    server's own (which still runs, unchanged): it ends the streams and starts stopping the
    workers at once.
    """
    runtime = JobRuntime(settings, db, store, cache=cache)
    await anyio.to_thread.run_sync(lambda: runtime.start(settings.jobs.workers))
    await runtime.events.start(runtime.changed_since)
    runtime._restore_signals = _chain_shutdown_signals(runtime, asyncio.get_running_loop())
    return runtime


async def stop_embedded(runtime: JobRuntime) -> None:
    """End the SSE streams, then stop the workers (running jobs go back to the queue)."""
    runtime._restore_signals()
    await runtime.events.stop()
    await anyio.to_thread.run_sync(runtime.stop)


def _chain_shutdown_signals(
    runtime: JobRuntime, loop: asyncio.AbstractEventLoop
) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # e.g. a test client's lifespan thread: no signals to chain
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runtime.begin_stop()
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(runtime.events.stop()))
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, on_signal)

    def restore() -> None:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is on_signal and handler is not None:
                signal.signal(signum, handler)

    return restore

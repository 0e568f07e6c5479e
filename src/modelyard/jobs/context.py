"""What a running job sees: :class:`JobContext`, and the exceptions that stop a job.

Huey cannot stop a running task, so stopping is cooperative: every ``ctx.progress()``,
``ctx.check_cancelled()`` and ``ctx.wait()`` is a checkpoint that raises
:class:`JobCancelled` (or a subclass) when the job must stop. A job may catch it to clean up
and must then re-raise it (or return; the job still ends as the interruption says).

Progress goes to SSE clients at every call; it is written to the jobs row (which is also
the worker's heartbeat and where a cancel requested by another process is read back) at
most every ``jobs.progress_flush_seconds``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.auth.schemas import Principal, Role
from modelyard.config import Settings
from modelyard.kit.errors import ProblemError
from modelyard.models import User
from modelyard.storage import BlobStore

if TYPE_CHECKING:
    from modelyard.cache import Cache
    from modelyard.jobs.runtime import JobRuntime
    from modelyard.jobs.worker import JobExecution


class JobCancelled(Exception):
    """The job must stop now: a user cancelled it (subclasses give other reasons)."""


class JobTimedOut(JobCancelled):
    """The job ran past its kind's ``timeout_seconds``; it ends ``failed``."""


class WorkerStopping(JobCancelled):
    """The worker is shutting down; the job goes back to the queue (no retry is spent)."""


class JobFailed(Exception):
    """The job cannot succeed however often it runs (bad input, a model that does not fit the
    data): it ends ``failed`` with this message now, without spending retries."""


class JobSuperseded(JobCancelled):
    """This worker no longer owns the job (it was taken as crashed and handed on)."""


class JobContext:
    """Handed to a job function as its first argument.

    Attributes: ``job_id``, ``kind``, ``attempt`` (1 on the first run), ``submitted_by``
    (a :class:`Principal`, ``None`` for system jobs), ``actor`` (the submitter's name or
    ``"system"``), ``settings``, ``store`` (the blob store every file goes to), ``params``;
    ``jobs``, the runtime the job runs in (to submit further jobs with
    ``jobs.service.submit(session, ctx.jobs, ...)``), and ``cache``, the process's shared
    cache (``None`` when it has none).
    """

    def __init__(
        self,
        execution: JobExecution,
        *,
        job_id: int,
        kind: str,
        attempt: int,
        params: dict[str, Any],
        submitted_by_id: int | None,
        submitted_by_name: str | None,
        settings: Settings,
        store: BlobStore,
    ) -> None:
        self._execution = execution
        self.job_id = job_id
        self.kind = kind
        self.attempt = attempt
        self.params = params
        self.actor = submitted_by_name or "system"
        self.settings = settings
        self.store = store
        self.jobs: JobRuntime = execution.runtime
        self.cache: Cache | None = execution.runtime.cache
        self._submitter = (submitted_by_id, submitted_by_name)
        self._principal: Principal | None = None

    @property
    def submitted_by(self) -> Principal | None:
        """The submitter with their current role (looked up once), ``None`` for system jobs
        or a deleted user."""
        user_id, name = self._submitter
        if self._principal is None and user_id is not None and name is not None:
            with self.session() as session:
                role = session.scalar(sa.select(User.role).where(User.id == user_id))
            if role is not None:
                self._principal = Principal(id=user_id, name=name, role=Role(role))
        return self._principal

    def progress(
        self,
        fraction: float | None = None,
        *,
        phase: str | None = None,
        message: str | None = None,
        eta_seconds: float | None = None,
    ) -> None:
        """Report progress (``fraction`` 0..1); a checkpoint and the worker's heartbeat.

        Fields left ``None`` keep their last value. The ETA is estimated from the elapsed
        time and the fraction unless given.
        """
        self._execution.report(fraction, phase, message, eta_seconds)

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the job must stop; report nothing."""
        self._execution.checkpoint()

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking at once (and raising) if the job must stop."""
        self._execution.wait(seconds)

    @property
    def last_attempt(self) -> bool:
        """Whether a failure now ends the job (no retry is left)."""
        return self._execution.retries_left <= 0

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session committed at exit (rolled back on an exception)."""
        with self._execution.db.session() as session:
            yield session

    @contextmanager
    def settles(
        self,
        *,
        end: Callable[[Session, str, str], None],
        requeue: Callable[[Session], None],
        final_client_errors: bool = False,
    ) -> Iterator[None]:
        """Bring the job's own row (an evaluation, a drift check) in line with how the job
        stops, then let the exception go on: a worker that stops puts it back in the queue
        (``requeue``), a timeout or a cancel ends it ``failed`` or ``cancelled`` (``end``
        with the status and the reason), a job superseded by another worker leaves it to
        that worker. Any other failure ends it ``failed`` with the error's detail, unless
        the job will run again, when it is queued again. With ``final_client_errors``, a
        4xx problem (one another attempt cannot change) ends it at once and the job with
        it (:class:`JobFailed`, no retry)."""
        try:
            yield
        except JobSuperseded:
            raise  # another worker runs it now and owns the row's status
        except WorkerStopping:
            with self.session() as session:
                requeue(session)
            raise
        except JobTimedOut as exc:
            with self.session() as session:
                end(session, "failed", f"Timed out: {exc}")
            raise
        except JobCancelled as exc:
            with self.session() as session:
                end(session, "cancelled", str(exc) or "cancelled on request")
            raise
        except Exception as exc:
            reason = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
            final = final_client_errors and isinstance(exc, ProblemError) and exc.status_code < 500
            with self.session() as session:
                if final or self.last_attempt:
                    end(session, "failed", reason)
                else:
                    requeue(session)
            if final:
                raise JobFailed(reason) from exc
            raise


class Interrupt:
    """Why a running job must stop; set from other threads, read at checkpoints."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: type[JobCancelled] | None = None
        self.message = ""

    def set(self, reason: type[JobCancelled], message: str) -> None:
        if self.reason is None or reason is JobSuperseded:
            self.reason, self.message = reason, message
        self.event.set()

    def raise_if_set(self) -> None:
        if self.reason is not None:
            raise self.reason(self.message)

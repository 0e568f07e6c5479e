"""Background jobs: a priority queue on Huey with progress, cancel, retries and live events.

Defining a job kind (in a domain's ``tasks.py``, imported by ``modelyard.tasks``)::

    from modelyard.jobs import job_kind, JobContext, JobCancelled
    from modelyard.auth.schemas import Role

    @job_kind("evaluation", min_role=Role.editor, retryable=False, max_retries=0,
              timeout_seconds=3600)
    def run_evaluation(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.progress(0.5, phase="predict", message="chunk 3/10")
        # fraction 0..1; raises JobCancelled when the job must stop; the worker's heartbeat
        ctx.check_cancelled()      # the same check without reporting
        ctx.wait(2.0)              # an interruptible sleep
        with ctx.session() as session:   # committed at exit, rolled back on error
            ...
        ctx.job_id, ctx.attempt, ctx.submitted_by, ctx.actor, ctx.settings, ctx.jobs, ctx.cache
        return {...}               # JSON; stored as the job's result

Optional: ``params_model=`` (a pydantic model) validates parameters at submission (422
naming the field); ``description=`` (else the docstring's first line).

Submitting, from a service, inside the caller's transaction, to the runtime the caller was
given (an endpoint's ``jobs: Jobs`` dependency, a job's ``ctx.jobs``)::

    from modelyard.jobs import service as jobs_service
    job = jobs_service.submit(session, jobs, kind="evaluation", params={...},
                              priority="normal", submitted_by=principal)  # -> JobOut
    jobs_service.get(session, job_id)                      # -> JobOut
    jobs_service.cancel(session, jobs, job_id, principal)  # -> JobOut
    jobs_service.retry(session, jobs, job_id, principal)   # -> JobOut

``submit`` flushes the row; the job reaches the queue only after the transaction commits.

Rules:

- Priority: ``low`` 0, ``normal`` 50, ``high`` 75, ``urgent`` 100, or any integer 0-100;
  higher first. Fairness within a priority: users take turns (see ``service``).
- Status: ``queued`` -> ``running`` -> ``succeeded`` | ``failed`` | ``cancelled``; a retry
  or a crashed worker puts a job back to ``queued``.
- Cancel: a queued job never starts; a running one raises :class:`JobCancelled` at its next
  checkpoint (``progress``, ``check_cancelled``, ``wait``) and ends ``cancelled``.
- Retries: a kind with ``retryable=True`` is retried up to ``max_retries`` times after an
  exception, a timeout or a lost worker, with a doubling backoff from
  ``jobs.retry_backoff_seconds``. A non-retryable job whose worker dies ends ``failed`` with
  the reason. ``POST /api/jobs/{id}/retry`` re-queues a failed or cancelled job by hand.
- Timeout: ``timeout_seconds`` is enforced at checkpoints; a job that never checks in is
  failed by the reaper ``jobs.stale_after_seconds`` later (its thread cannot be killed).
- Visibility: admins see every job; others see only the jobs they submitted.
- Workers: ``modelyard serve`` runs ``jobs.workers`` threads in each server process;
  ``modelyard worker --concurrency N`` runs anywhere pointed at the same database and queue.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.jobs._queue_metrics import QueueGauges
    from modelyard.jobs.context import JobCancelled, JobContext, JobTimedOut
    from modelyard.jobs.kinds import JobKind, get_kind, job_kind
    from modelyard.jobs.schemas import PRIORITY_LEVELS, JobOut, JobStatus

# Resolved on first use, so that ``modelyard.jobs.schemas`` (which the Python client and the
# CLI import) does not load the job runtime, the database layer or the web framework.
_EXPORTS = {
    "JobCancelled": "context",
    "JobContext": "context",
    "JobTimedOut": "context",
    "JobKind": "kinds",
    "get_kind": "kinds",
    "job_kind": "kinds",
    "PRIORITY_LEVELS": "schemas",
    "JobOut": "schemas",
    "JobStatus": "schemas",
    "QueueGauges": "_queue_metrics",
}

__all__ = [
    "PRIORITY_LEVELS",
    "JobCancelled",
    "JobContext",
    "JobKind",
    "JobOut",
    "JobStatus",
    "JobTimedOut",
    "QueueGauges",
    "get_kind",
    "job_kind",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)

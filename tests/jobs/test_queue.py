"""Queue behaviour on every backend: priority, fairness, cancel, retries, timeouts, restarts."""

from __future__ import annotations

import sqlalchemy as sa

from modelyard.jobs import service
from modelyard.jobs.schemas import JobStatus
from modelyard.models import Job
from tests.jobs.conftest import ALL_QUEUE_BACKENDS, JobEnv


def _start_order(env: JobEnv, ids: list[int]) -> list[int]:
    jobs = [env.wait(i) for i in ids]
    assert all(j.status == JobStatus.succeeded for j in jobs), jobs
    return [j.id for j in sorted(jobs, key=lambda j: (j.started_at, j.id))]


@ALL_QUEUE_BACKENDS
def test_higher_priority_queued_later_starts_first(job_env: JobEnv) -> None:
    runtime = job_env.runtime(workers=0)
    low = job_env.submit("test.echo", priority="low").id
    normal = job_env.submit("test.echo", priority="normal").id
    high = job_env.submit("test.echo", priority="high").id
    sixty = job_env.submit("test.echo", priority=60).id
    urgent = job_env.submit("test.echo", priority="urgent").id
    runtime.stop()
    job_env.runtime(workers=1)
    assert _start_order(job_env, [low, normal, high, sixty, urgent]) == [
        urgent,
        high,
        sixty,
        normal,
        low,
    ]


def test_users_take_turns_within_a_priority(job_env: JobEnv) -> None:
    runtime = job_env.runtime(workers=0)
    alice = [job_env.submit("test.echo", submitted_by=job_env.alice).id for _ in range(4)]
    bob = [job_env.submit("test.echo", submitted_by=job_env.bob).id for _ in range(2)]
    urgent = job_env.submit("test.echo", priority="urgent", submitted_by=job_env.alice).id
    runtime.stop()
    job_env.runtime(workers=1)
    order = _start_order(job_env, [*alice, *bob, urgent])
    assert order == [urgent, alice[0], bob[0], alice[1], bob[1], alice[2], alice[3]]


def test_cancelled_queued_job_never_starts(job_env: JobEnv) -> None:
    runtime = job_env.runtime(workers=0)
    doomed = job_env.submit("test.echo").id
    later = job_env.submit("test.echo").id
    with job_env.db.session() as session:
        assert service.cancel(session, job_env.current(), doomed).status == JobStatus.cancelled
    runtime.stop()
    job_env.runtime(workers=1)
    assert job_env.wait(later).status == JobStatus.succeeded
    job = job_env.job(doomed)
    assert job.status == JobStatus.cancelled
    assert job.attempts == 0 and job.started_at is None


@ALL_QUEUE_BACKENDS
def test_running_job_stops_at_its_next_checkpoint(job_env: JobEnv) -> None:
    job_env.runtime(workers=1)
    job_id = job_env.submit("test.loop").id
    job_env.wait(job_id, lambda j: j.progress.fraction is not None)
    with job_env.db.session() as session:
        assert service.cancel(session, job_env.current(), job_id).cancel_requested
    job = job_env.wait(job_id)
    assert job.status == JobStatus.cancelled
    assert job.progress.fraction is not None and job.progress.fraction < 1


def test_cancel_written_by_another_process_is_seen(job_env: JobEnv) -> None:
    """Only the row says so (no event reaches this process): the worker reads it back."""
    job_env.runtime(workers=1)
    job_id = job_env.submit("test.loop").id
    job_env.wait(job_id, lambda j: j.progress.fraction is not None)
    with job_env.db.session() as session:
        session.execute(sa.update(Job).where(Job.id == job_id).values(cancel_requested=True))
    assert job_env.wait(job_id).status == JobStatus.cancelled


def test_a_job_that_swallows_the_cancel_still_ends_cancelled(sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=1)
    job_id = sqlite_env.submit("test.swallow").id
    sqlite_env.wait(job_id, lambda j: j.status == JobStatus.running)
    with sqlite_env.db.session() as session:
        service.cancel(session, sqlite_env.current(), job_id)
    job = sqlite_env.wait(job_id)
    assert job.status == JobStatus.cancelled and job.result is None


@ALL_QUEUE_BACKENDS
def test_retryable_kind_is_retried_until_it_succeeds(job_env: JobEnv) -> None:
    job_env.runtime(workers=1)
    job_id = job_env.submit("sleep", {"seconds": 0, "steps": 0, "fail_times": 2}).id
    job = job_env.wait(job_id)
    assert job.status == JobStatus.succeeded, job
    assert job.attempts == 3 and job.result == {"seconds": 0.0, "steps": 0, "attempt": 3}
    assert job.error is None


def test_retries_run_out_then_manual_retry(job_env: JobEnv) -> None:
    job_env.runtime(workers=1)
    job_id = job_env.submit("sleep", {"seconds": 0, "steps": 0, "fail_times": 5}).id
    job = job_env.wait(job_id)
    assert job.status == JobStatus.failed and job.attempts == 4
    assert "failing on purpose" in (job.error or "") and "gave up after 4 attempts" in (
        job.error or ""
    )
    with job_env.db.session() as session:
        assert service.retry(session, job_env.current(), job_id).status == JobStatus.queued
    job = job_env.wait(job_id)
    assert job.status == JobStatus.succeeded and job.attempts == 6


def test_backoff_delays_the_retry(sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=1, retry_backoff_seconds=0.5)
    job_id = sqlite_env.submit("sleep", {"seconds": 0, "steps": 0, "fail_times": 1}).id
    waiting = sqlite_env.wait(job_id, lambda j: j.attempts == 1 and j.status == JobStatus.queued)
    assert "retrying in 0.5 s" in (waiting.error or "")
    job = sqlite_env.wait(job_id)
    assert job.status == JobStatus.succeeded and job.attempts == 2
    assert job.started_at is not None and waiting.updated_at is not None
    assert (job.started_at - waiting.updated_at).total_seconds() >= 0.45


def test_time_limit_fails_the_job(sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=1)
    job = sqlite_env.wait(sqlite_env.submit("test.timeout").id)
    assert job.status == JobStatus.failed
    assert job.error == "Timed out: timed out after 0.3 s"


def test_job_without_checkpoints_past_its_limit_is_failed_by_the_reaper(sqlite_env: JobEnv) -> None:
    from modelyard.jobs.kinds import get_kind, job_kind, unregister

    fn = get_kind("test.blocking").func  # type: ignore[union-attr]
    job_kind("test.blocking_limited", timeout_seconds=0.1)(fn)
    try:
        sqlite_env.runtime(workers=1, stale_after_seconds=0.2)
        job_id = sqlite_env.submit("test.blocking_limited", {"seconds": 1.5}).id
        job = sqlite_env.wait(job_id)
        assert job.status == JobStatus.failed
        assert "without reaching a checkpoint" in (job.error or "")
    finally:
        unregister("test.blocking_limited")


def test_result_must_be_json(sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=1)
    job = sqlite_env.wait(sqlite_env.submit("test.bad_result").id)
    assert job.status == JobStatus.failed and "not JSON" in (job.error or "")


def test_progress_is_stored_with_an_eta(sqlite_env: JobEnv) -> None:
    sqlite_env.runtime(workers=1)
    job_id = sqlite_env.submit("test.loop", {"steps": 20, "delay": 0.02}).id
    running = sqlite_env.wait(job_id, lambda j: (j.progress.fraction or 0) >= 0.25)
    assert running.status == JobStatus.running and running.progress.phase == "loop"
    assert running.progress.eta_seconds is not None and running.progress.eta_seconds > 0
    done = sqlite_env.wait(job_id)
    assert done.progress.fraction == 1.0 and done.progress.message == "20/20"


def test_rolled_back_submission_leaves_no_job(job_env: JobEnv) -> None:
    runtime = job_env.runtime(workers=0)
    try:
        with job_env.db.session() as session:
            job_id = service.submit(session, runtime, kind="test.echo").id
            raise RuntimeError("the request failed after submitting")
    except RuntimeError:
        pass
    with job_env.db.session() as session:
        assert session.get(Job, job_id) is None
    assert runtime.huey.pending_count() == 0


@ALL_QUEUE_BACKENDS
def test_restart_keeps_queued_and_interrupted_jobs(job_env: JobEnv) -> None:
    first = job_env.runtime(workers=1)
    running = job_env.submit("test.loop", {"steps": 100_000}).id
    job_env.wait(running, lambda j: j.progress.fraction is not None)
    queued = [job_env.submit("test.echo").id for _ in range(3)]
    first.stop()  # the server shuts down: the running job goes back to the queue
    job = job_env.job(running)
    assert job.status == JobStatus.queued and job.attempts == 1
    assert all(job_env.job(i).status == JobStatus.queued for i in queued)

    job_env.runtime(workers=2)  # restart
    for job_id in queued:
        assert job_env.wait(job_id).status == JobStatus.succeeded
    job = job_env.wait(running, lambda j: j.status == JobStatus.running)
    assert job.attempts == 2


def test_queued_rows_missing_from_the_queue_are_enqueued_on_start(job_env: JobEnv) -> None:
    """A crash between commit and enqueue, or a lost queue: the jobs table wins."""
    first = job_env.runtime(workers=0)
    ids = [job_env.submit("test.echo").id for _ in range(3)]
    first.huey.storage.flush_queue()
    first.stop()
    job_env.runtime(workers=1)
    assert [job_env.wait(i).status for i in ids] == [JobStatus.succeeded] * 3


def test_duplicate_queue_messages_run_a_job_once(sqlite_env: JobEnv) -> None:
    runtime = sqlite_env.runtime(workers=0)
    job = sqlite_env.submit("test.echo")
    for _ in range(3):
        runtime.enqueue(job.id, job.priority, 0)
    runtime.stop()
    sqlite_env.runtime(workers=2)
    assert sqlite_env.wait(job.id).attempts == 1


def test_jobs_of_a_dead_local_process_are_recovered_at_start(sqlite_env: JobEnv) -> None:
    """After a crash and restart there is no need to wait for the heartbeat to go stale."""
    import socket

    first = sqlite_env.runtime(workers=0, stale_after_seconds=3600)
    retryable = sqlite_env.submit("sleep", {"seconds": 0, "steps": 0}).id
    fragile = sqlite_env.submit("test.slow_fragile", {"seconds": 0}).id
    first.stop()
    dead = f"{socket.gethostname()}:999999999:dead00"  # no such process
    with sqlite_env.db.session() as session:
        session.execute(
            sa.update(Job)
            .where(Job.id.in_([retryable, fragile]))
            .values(
                status="running", worker=dead, attempts=1, heartbeat_at=sa.func.current_timestamp()
            )
        )
    sqlite_env.runtime(workers=1, stale_after_seconds=3600)
    assert sqlite_env.wait(retryable).status == JobStatus.succeeded
    job = sqlite_env.wait(fragile)
    assert job.status == JobStatus.failed and "is gone" in (job.error or "")

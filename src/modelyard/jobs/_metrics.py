"""Job metrics of the process that runs them (a server's embedded workers or a ``modelyard
worker``): attempts ended by kind and outcome, how long they ran, and how many run now."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS_ENDED = Counter(
    "modelyard_jobs_ended_total",
    "Job attempts this process ended, by kind and outcome (succeeded, failed, cancelled, "
    "retried, requeued).",
    ["kind", "outcome"],
)
JOB_SECONDS = Histogram(
    "modelyard_job_duration_seconds",
    "How long a job attempt ran in this process, by kind.",
    ["kind"],
    buckets=(0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0),
)
JOBS_RUNNING = Gauge(
    "modelyard_jobs_running", "Jobs running in this process now.", multiprocess_mode="livesum"
)
JOBS_QUEUED = Gauge(
    "modelyard_jobs_queued",
    "Jobs waiting in the queue now, by kind (read from the database at each scrape).",
    ["kind"],
    multiprocess_mode="mostrecent",
)
JOB_QUEUE_WAIT = Gauge(
    "modelyard_job_queue_wait_seconds",
    "Age of the oldest job that could run but has not started (read at each scrape).",
    multiprocess_mode="mostrecent",
)

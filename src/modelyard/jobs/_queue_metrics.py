"""Queue depth and wait for Prometheus, read from the jobs table when /metrics is scraped.

Every process that serves /metrics (a server, a worker with ``--metrics-port``) reads the
same table, so the gauges are ``mostrecent`` across processes: one answer, the latest.
Kinds seen before and now empty are set to zero rather than left at their last count.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelyard.jobs._metrics import JOB_QUEUE_WAIT, JOBS_QUEUED
from modelyard.kit.db import Database
from modelyard.kit.time import utcnow
from modelyard.models import Job

__all__ = ["QueueGauges"]


class QueueGauges:
    """Sets the queue gauges from the database (``refresh``, called at each scrape)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: set[str] = set()

    def refresh(self, now: dt.datetime | None = None) -> dict[str, int]:
        """The queued count by kind, after setting the gauges."""
        at = now or utcnow()
        ready_since = sa.func.coalesce(Job.run_after, Job.created_at)
        with self.db.engine.connect() as conn:
            counts = {
                str(kind): int(n)
                for kind, n in conn.execute(
                    sa.select(Job.kind, sa.func.count())
                    .where(Job.status == "queued")
                    .group_by(Job.kind)
                )
            }
            oldest = conn.scalar(
                sa.select(sa.func.min(ready_since)).where(Job.status == "queued", ready_since <= at)
            )
        for kind in self.seen | set(counts):
            JOBS_QUEUED.labels(kind).set(counts.get(kind, 0))
        self.seen.update(counts)
        if oldest is not None and oldest.tzinfo is None:  # an aggregate skips the type decorator
            oldest = oldest.replace(tzinfo=dt.UTC)
        wait = max(0.0, (at - oldest).total_seconds()) if oldest is not None else 0.0
        JOB_QUEUE_WAIT.set(wait)
        return counts

"""What the rules compare: host and process figures from psutil, the request p99 from the
request histogram, and the wait of the oldest runnable job.

Each reading is a mapping of subject to value. The host's subject is its name, a
deployment's its name (read from the deployments' stored recent errors); a process's
is ``host/pid``, because with several server processes each one reports for itself (a slow
or bloated worker should not hide behind a quiet one). CPU is the busy share between two
readings, so the first reading after start has no CPU figure.

The p99 comes from differences of the cumulative bucket counts of
``modelyard_http_request_duration_seconds`` over the window, interpolated inside the bucket
that holds the 99th percentile (as Prometheus' ``histogram_quantile`` does), so it is as
fine as the buckets: a p99 beyond the last finite bucket reads as that bucket's bound.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import statistics
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import psutil
import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelyard.alerts.schemas import Metric, Scope
from modelyard.models import Deployment, Job
from modelyard.telemetry import REQUEST_SECONDS

__all__ = ["ReadingKey", "Readings", "quantile_from_buckets"]

ReadingKey = tuple[Metric, Scope, float]
"""Metric, scope and window (the window only matters for the latency p99)."""

MAX_SNAPSHOTS = 6000
MIN_SCORED_WINDOWS = 3

log = logging.getLogger("modelyard.alerts")


def quantile_from_buckets(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets, or None if empty."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


class Readings:
    def __init__(
        self,
        data_dir: Path,
        *,
        min_requests: int = 20,
        exclude_routes: Iterable[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.min_requests = min_requests
        self.exclude_routes = tuple(exclude_routes)
        self.host = socket.gethostname()
        self.process_subject = f"{self.host}/{os.getpid()}"
        self.process = psutil.Process()
        self._host_cpu: tuple[float, float] | None = None
        self._process_cpu: tuple[float, float] | None = None
        self._latency: deque[tuple[float, list[tuple[float, float]]]] = deque(maxlen=MAX_SNAPSHOTS)

    def process_gone(self, subject: str) -> bool:
        """A process subject of this host whose process no longer runs."""
        host, _, pid = subject.rpartition("/")
        return host == self.host and pid.isdigit() and not psutil.pid_exists(int(pid))

    def take(
        self, keys: set[ReadingKey], now: float, session: Session
    ) -> dict[ReadingKey, dict[str, float]]:
        """Read what ``keys`` ask for. CPU and latency baselines advance on every call."""
        host_cpu = process_cpu = None
        with contextlib.suppress(psutil.Error, OSError):
            host_cpu = self._read_host_cpu()
            process_cpu = self._read_process_cpu(now)
        self._snapshot_latency(now)
        out: dict[ReadingKey, dict[str, float]] = {}
        for key in keys:
            metric, scope, window = key
            if scope is Scope.deployment:
                errors = self._prediction_errors(session)
                if errors:
                    out[key] = errors
                continue
            try:
                value = self._value(metric, scope, window, now, session, host_cpu, process_cpu)
            except (psutil.Error, OSError):  # one unreadable figure must not stop the others
                log.warning("alerts: reading %s of %s failed", metric.value, scope.value)
                value = None
            if value is not None:
                subject = self.host if scope is Scope.host else self.process_subject
                out[key] = {subject: round(value, 3)}
        return out

    def _value(
        self,
        metric: Metric,
        scope: Scope,
        window: float,
        now: float,
        session: Session,
        host_cpu: float | None,
        process_cpu: float | None,
    ) -> float | None:
        if metric is Metric.cpu_percent:
            return host_cpu if scope is Scope.host else process_cpu
        if metric is Metric.memory_percent:
            if scope is Scope.host:
                return float(psutil.virtual_memory().percent)
            return float(self.process.memory_percent())
        if metric is Metric.rss_mb:
            return self.process.memory_info().rss / (1 << 20)
        if metric is Metric.disk_percent:
            return float(psutil.disk_usage(str(self._existing_data_dir())).percent)
        if metric is Metric.request_latency_p99_ms:
            p99 = self.latency_p99(now, window)
            return None if p99 is None else p99 * 1000.0
        if metric is Metric.job_queue_wait_seconds:
            return self._job_queue_wait(session, now)
        return None

    def _existing_data_dir(self) -> Path:
        path = self.data_dir.resolve()
        while not path.exists() and path != path.parent:
            path = path.parent
        return path

    def _read_host_cpu(self) -> float | None:
        times = psutil.cpu_times()
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        previous, self._host_cpu = self._host_cpu, (total - idle, total)
        if previous is None or total <= previous[1]:
            return None
        return 100.0 * (total - idle - previous[0]) / (total - previous[1])

    def _read_process_cpu(self, now: float) -> float | None:
        times = self.process.cpu_times()
        used = times.user + times.system
        previous, self._process_cpu = self._process_cpu, (used, now)
        if previous is None or now <= previous[1]:
            return None
        return 100.0 * (used - previous[0]) / (now - previous[1])

    def _request_buckets(self) -> list[tuple[float, float]]:
        totals: dict[float, float] = {}
        for family in REQUEST_SECONDS.collect():
            for sample in family.samples:
                if not sample.name.endswith("_bucket"):
                    continue
                route = sample.labels.get("route", "")
                if any(part in route for part in self.exclude_routes):
                    continue
                bound = float(sample.labels["le"])
                totals[bound] = totals.get(bound, 0.0) + sample.value
        return sorted(totals.items())

    def _snapshot_latency(self, now: float) -> None:
        self._latency.append((now, self._request_buckets()))

    def latency_p99(self, now: float, window: float) -> float | None:
        """p99 of request time (seconds) over the last ``window`` seconds of snapshots."""
        if not self._latency:
            return None
        latest = self._latency[-1][1]
        # Until the snapshots span the window, count from the first one (a shorter window):
        # the totals since the process started could span far more than the window.
        baseline = self._latency[0][1]
        for at, buckets in self._latency:
            if at <= now - window:
                baseline = buckets
            else:
                break
        base = dict(baseline)
        delta = [(bound, count - base.get(bound, 0.0)) for bound, count in latest]
        if not delta or delta[-1][1] < self.min_requests:
            return None
        return quantile_from_buckets(0.99, delta)

    def _prediction_errors(self, session: Session) -> dict[str, float]:
        """Deployment name -> median |error| (percent) of its serving version's recent windows.

        The deployment's engine keeps the last ``selection_window`` absolute errors of every
        version in ``state["errors"]``; a version with fewer than ``MIN_SCORED_WINDOWS`` has
        no figure yet, so one odd first window does not fire a fleet rule.
        """
        out: dict[str, float] = {}
        rows = session.execute(
            sa.select(Deployment.name, Deployment.serving_version_id, Deployment.state).where(
                Deployment.status == "active", Deployment.serving_version_id.is_not(None)
            )
        )
        for name, version_id, state in rows:
            errors = (state or {}).get("errors", {}).get(str(version_id), [])
            values = [float(e) for e in errors if isinstance(e, int | float)]
            if len(values) >= MIN_SCORED_WINDOWS:
                out[name] = round(statistics.median(values), 3)
        return out

    def _job_queue_wait(self, session: Session, now: float) -> float:
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        ready_since = sa.func.coalesce(Job.run_after, Job.created_at)
        oldest = session.scalar(
            sa.select(sa.func.min(ready_since)).where(Job.status == "queued", ready_since <= at)
        )
        if oldest is None:
            return 0.0
        if oldest.tzinfo is None:  # an aggregate skips the column's type decorator
            oldest = oldest.replace(tzinfo=dt.UTC)
        return max(0.0, (at - oldest).total_seconds())

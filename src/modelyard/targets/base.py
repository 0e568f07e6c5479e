"""The one small interface every live target implements, and what an interval carries.

A target adapter is started, then asked every interval for what happened since the last call
(:meth:`TargetAdapter.collect`), and stopped. ``collect`` returns zero or more :class:`Interval`
records (a push or Prometheus target may deliver several, or none yet) and raises
:class:`TargetDown` with a reason a person can act on when the system cannot be reached or
has died. The live runner marks the target down with that reason and calls ``start`` again
after a back-off, so a system that returns is followed again without anyone stepping in.

Metric names are shared by every kind (:data:`METRIC_NAMES`); an operation kind is a suffix:
``ops_per_sec.put``, ``latency_p99_us.get``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "METRIC_NAMES",
    "Interval",
    "TargetAdapter",
    "TargetDown",
    "TargetError",
    "TargetFinished",
    "judge_saturation",
]

METRIC_NAMES: dict[str, str] = {
    "ops_per_sec": "operations per second, all kinds (suffix .put/.get/.scan per kind)",
    "offered_ops_per_sec": "the rate the workload offered (absent: open-loop maximum)",
    "backlog_ops": "operations an open-loop schedule is behind",
    "latency_p50_us": "median operation latency in microseconds (suffix per kind)",
    "latency_p99_us": "99th percentile operation latency in microseconds (suffix per kind)",
    "cpu_process_cores": "cores the target's process used",
    "cpu_foreground_cores": "cores of the process's foreground (client) threads",
    "cpu_flush_cores": "cores of the flush threads (rocksdb:high)",
    "cpu_compaction_cores": "cores of the compaction threads (rocksdb:low)",
    "cpu_steal_fraction": "hypervisor steal as a fraction of all cores' time",
    "cpu_other_cores": "cores other processes used",
    "cpu_available_cores": "cores * (1 - steal) - other processes' cores",
    "memory_rss_bytes": "resident memory of the target's process",
    "memtable_bytes": "bytes in all memtables",
    "disk_read_bytes_per_sec": "bytes the process read from storage per second",
    "disk_write_bytes_per_sec": "bytes the process wrote to storage per second",
    "user_bytes_per_sec": "bytes written by the application per second",
    "flush_bytes_per_sec": "bytes written by flushes per second",
    "compaction_read_bytes_per_sec": "bytes read by compactions per second",
    "compaction_write_bytes_per_sec": "bytes written by compactions per second",
    "pending_compaction_bytes": "RocksDB's estimate of compaction debt",
    "running_compactions": "compactions running at the end of the interval",
    "l0_files": "files in level 0",
    "stall_micros_per_sec": "microseconds of write stall per second",
    "stall_count": "write stalls and stops begun in the interval",
    "write_amplification": "flush + compaction bytes written per user byte (interval)",
}


class TargetError(Exception):
    """A target's configuration cannot work (bad arguments, missing binary)."""


class TargetDown(Exception):
    """The target cannot be reached or has died; the message says why."""


class TargetFinished(TargetDown):
    """The target's work ended by itself (a workload with an end, a db_bench run that exited)."""


SATURATION_REACH = 0.95
STALL_FRACTION = 0.01


def judge_saturation(metrics: dict[str, float]) -> tuple[bool | None, list[str]]:
    """Saturated (capacity measured), not (a lower bound only), or None (cannot tell).

    An explicit ``saturated`` metric wins; otherwise an offered rate the system did not reach,
    a growing backlog, or write stalls over 1% of the interval mean saturated.
    """
    if "saturated" in metrics:
        flag = metrics["saturated"] >= 0.5
        return flag, ["reported saturated"] if flag else []
    reasons: list[str] = []
    achieved = metrics.get("ops_per_sec", 0.0)
    offered = metrics.get("offered_ops_per_sec")
    if offered is not None and offered > 0:
        if achieved < SATURATION_REACH * offered:
            reasons.append(f"achieved {achieved / offered:.0%} of the offered rate")
        if metrics.get("backlog_ops", 0.0) > 0.1 * offered:
            reasons.append(f"backlog of {metrics['backlog_ops']:.0f} operations")
    stall = metrics.get("stall_micros_per_sec")
    if stall is not None and stall / 1e6 > STALL_FRACTION:
        reasons.append(f"writes stalled {stall / 1e6:.0%} of the interval")
    if reasons:
        return True, reasons
    if offered is None and stall is None:
        return None, []
    return False, []


@dataclass
class Interval:
    """One measured interval of a target.

    ``metrics`` holds the values under :data:`METRIC_NAMES`; ``configuration`` the workload and
    options in force (what a model's features come from); ``evidence`` the raw observations
    the tuner uses (compaction events, CPU seconds by thread group, ticker deltas).
    ``saturated`` is True when the interval measured capacity (stalls, a growing backlog, an
    open-loop maximum), False when it only shows that capacity is at least the achieved rate,
    and None when the target cannot tell.
    """

    ts_ms: int
    seconds: float
    metrics: dict[str, float]
    configuration: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    saturated: bool | None = None
    saturation_reasons: list[str] = field(default_factory=list)


class TargetAdapter(Protocol):
    kind: str

    def start(self) -> None:
        """Start or connect; raise TargetDown if that fails, TargetError if it never can."""

    def collect(self) -> list[Interval]:
        """Intervals completed since the last call; raise TargetDown when the target is gone."""

    def stop(self) -> None:
        """Stop what ``start`` started (only that); safe to call twice."""

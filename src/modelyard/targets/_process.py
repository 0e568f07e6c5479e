"""Per-interval CPU, memory and disk I/O of a target's process, read from /proc.

The db_bench CPU sampler (:mod:`modelyard.targets.dbbench.cpu`) summarises a whole run; a live
target needs the same figures interval by interval, so :class:`ProcessMeter` keeps the last
reading and returns deltas. Both read /proc through :mod:`modelyard.targets.procfs`: the
system-wide steal and other processes' load come from ``/proc/stat``, the process's threads
from ``/proc/<pid>/task``, grouped by RocksDB's thread names (``rocksdb:low`` compactions,
``rocksdb:high`` flushes, everything else foreground).
"""

from __future__ import annotations

import time

from modelyard.targets.procfs import (
    TICKS_PER_SECOND,
    io_bytes,
    read_proc_stat,
    rss_bytes,
    thread_ticks,
)

__all__ = ["ProcessMeter"]


def _group(thread_name: str) -> str:
    if thread_name.startswith("rocksdb:low"):
        return "compaction"
    if thread_name.startswith("rocksdb:high"):
        return "flush"
    return "foreground"


class ProcessMeter:
    """Call :meth:`sample` once per interval; the first call only sets the baseline."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cores, _ = read_proc_stat()
        self._last: (
            tuple[float, dict[str, int], dict[int, tuple[str, int]], tuple[int, int] | None] | None
        ) = None

    def _read(
        self,
    ) -> tuple[float, dict[str, int], dict[int, tuple[str, int]], tuple[int, int] | None]:
        _, total = read_proc_stat()
        return time.monotonic(), total, thread_ticks(self.pid), io_bytes(self.pid)

    def sample(self) -> dict[str, float]:
        current = self._read()
        previous, self._last = self._last, current
        metrics: dict[str, float] = {}
        rss = rss_bytes(self.pid)
        if rss is not None:
            metrics["memory_rss_bytes"] = float(rss)
        if previous is None:
            return metrics
        seconds = max(current[0] - previous[0], 1e-6)
        delta = {k: current[1][k] - previous[1].get(k, 0) for k in current[1]}
        total = sum(delta.values())
        groups = {"foreground": 0.0, "flush": 0.0, "compaction": 0.0}
        for tid, (name, ticks) in current[2].items():
            before = previous[2].get(tid)
            used = ticks - (before[1] if before is not None else 0)
            groups[_group(name)] += max(0, used) / TICKS_PER_SECOND
        own = sum(groups.values()) / seconds
        for group, cpu_sec in groups.items():
            metrics[f"cpu_{group}_cores"] = cpu_sec / seconds
        metrics["cpu_process_cores"] = own
        if total > 0:
            steal = delta.get("steal", 0) / total
            idle = delta.get("idle", 0) + delta.get("iowait", 0)
            busy = (total - idle - delta.get("steal", 0)) / total * self.cores
            other = max(0.0, busy - own)
            metrics["cpu_steal_fraction"] = steal
            metrics["cpu_other_cores"] = other
            metrics["cpu_available_cores"] = max(0.0, self.cores * (1.0 - steal) - other)
        if current[3] is not None and previous[3] is not None:
            metrics["disk_read_bytes_per_sec"] = (current[3][0] - previous[3][0]) / seconds
            metrics["disk_write_bytes_per_sec"] = (current[3][1] - previous[3][1]) / seconds
        return metrics

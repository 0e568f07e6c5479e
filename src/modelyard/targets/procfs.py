"""Readers of Linux /proc shared by the db_bench CPU sampler and the live process meter.

:mod:`modelyard.targets.dbbench.cpu` summarises a whole db_bench run and
:mod:`modelyard.targets._process` meters a live target interval by interval; both need the
same raw figures (system-wide jiffies, one process's and each of its threads' CPU ticks, disk
bytes and resident memory), so they are read here once. Every reader returns ``None`` or an
empty mapping when the process or thread is gone: a target may exit between two samples.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "TICKS_PER_SECOND",
    "io_bytes",
    "process_ticks",
    "read_proc_stat",
    "rss_bytes",
    "thread_schedstat",
    "thread_ticks",
]

TICKS_PER_SECOND = float(os.sysconf("SC_CLK_TCK"))
"""Kernel clock ticks (jiffies as /proc reports them) in one second."""
_PAGE = os.sysconf("SC_PAGE_SIZE")
_STAT_NAMES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def read_proc_stat(path: str = "/proc/stat") -> tuple[int, dict[str, int]]:
    """(cores, aggregate jiffies by field) from /proc/stat."""
    cores = 0
    total: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("cpu "):
            values = [int(x) for x in line.split()[1:9]]
            total = dict(zip(_STAT_NAMES, values, strict=False))
        elif line.startswith("cpu") and line[3:4].isdigit():
            cores += 1
    return cores, total


def _ticks_of_stat(raw: str) -> int:
    # The command name in parentheses may hold spaces; fields count from the last ')'.
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def process_ticks(pid: int) -> int | None:
    """User plus system CPU ticks of the whole process, or ``None`` once it has exited."""
    try:
        return _ticks_of_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, IndexError, ValueError):
        return None


def _tasks(pid: int) -> Iterator[tuple[int, Path]]:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        yield int(tid), Path(f"/proc/{pid}/task/{tid}")


def thread_ticks(pid: int) -> dict[int, tuple[str, int]]:
    """tid -> (thread name, user plus system CPU ticks) for each live thread of ``pid``."""
    out: dict[int, tuple[str, int]] = {}
    for tid, task in _tasks(pid):
        try:
            raw = (task / "stat").read_text()
            out[tid] = (raw[raw.index("(") + 1 : raw.rindex(")")], _ticks_of_stat(raw))
        except (OSError, IndexError, ValueError):
            continue
    return out


def thread_schedstat(pid: int) -> dict[int, tuple[str, int, int]]:
    """tid -> (name, ns on CPU, ns runnable but waiting for a CPU) from each schedstat file."""
    out: dict[int, tuple[str, int, int]] = {}
    for tid, task in _tasks(pid):
        try:
            name = (task / "comm").read_text().strip()
            run_ns, wait_ns, _ = (task / "schedstat").read_text().split()
            out[tid] = (name, int(run_ns), int(wait_ns))
        except (OSError, ValueError):
            continue
    return out


def io_bytes(pid: int) -> tuple[int, int] | None:
    """(bytes read, bytes written) from storage by ``pid``, or ``None`` if unreadable."""
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return int(fields.get("read_bytes", 0)), int(fields.get("write_bytes", 0))


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` in bytes, or ``None`` once it has exited."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None

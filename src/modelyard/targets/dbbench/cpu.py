"""CPU availability from /proc/stat: how much CPU a measured process could actually use.

A `CpuSampler` runs in a thread beside a process, reads /proc/stat and /proc/<pid>/stat (and the
per-thread stat files) every interval, and summarises: cores, hypervisor steal, the load of every
other process, the process's own CPU, and per-thread-name CPU seconds (RocksDB names its pools
`rocksdb:high` for flushes and `rocksdb:low` for compactions).

    available cores = cores * (1 - steal fraction) - other processes' busy cores
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from modelyard.targets.procfs import (
    TICKS_PER_SECOND,
    process_ticks,
    read_proc_stat,
    thread_schedstat,
    thread_ticks,
)

__all__ = ["Availability", "CpuSample", "CpuSampler", "CpuSummary", "sample_availability"]


@dataclass(frozen=True)
class CpuSample:
    """One interval: fractions of all cores' time, and cores used by the process and others."""

    t: float
    steal_fraction: float
    idle_fraction: float
    own_cores: float
    other_cores: float
    available_cores: float


@dataclass
class CpuSummary:
    cores: int
    seconds: float
    steal_fraction: float
    idle_fraction: float
    own_cores: float
    other_cores: float
    available_cores: float
    thread_cpu_sec: dict[str, float] = field(default_factory=dict)
    thread_wait_sec: dict[str, float] = field(default_factory=dict)  # runnable, no CPU free
    samples: list[CpuSample] = field(default_factory=list)

    def to_dict(self, with_samples: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_samples:
            data.pop("samples")
        return data


class CpuSampler:
    """Sample CPU availability while `pid` runs (use as a context manager or start/stop)."""

    def __init__(self, pid: int | None = None, interval: float = 1.0) -> None:
        self.pid = pid
        self.interval = interval
        self.cores, _ = read_proc_stat()
        self._samples: list[CpuSample] = []
        self._threads: dict[int, tuple[str, int]] = {}
        self._sched: dict[int, tuple[str, int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first: tuple[float, dict[str, int], int] | None = None
        self._last: tuple[float, dict[str, int], int] | None = None

    def _snapshot(self) -> tuple[float, dict[str, int], int]:
        _, total = read_proc_stat()
        own = process_ticks(self.pid) if self.pid is not None else 0
        if self.pid is not None:
            for tid, value in thread_ticks(self.pid).items():
                self._threads[tid] = value
            self._sched.update(thread_schedstat(self.pid))
        if own is None:  # the process is gone; keep its last reading
            own = self._last[2] if self._last is not None else 0
        return time.monotonic(), total, own

    def _interval(
        self, a: tuple[float, dict[str, int], int], b: tuple[float, dict[str, int], int]
    ) -> CpuSample | None:
        delta = {k: b[1][k] - a[1].get(k, 0) for k in b[1]}
        total = sum(delta.values())
        if total <= 0:
            return None
        steal = delta.get("steal", 0) / total
        idle = (delta.get("idle", 0) + delta.get("iowait", 0)) / total
        busy_cores = total - delta.get("idle", 0) - delta.get("iowait", 0) - delta.get("steal", 0)
        busy_cores_f = busy_cores / total * self.cores
        own_cores = (b[2] - a[2]) / TICKS_PER_SECOND / max(b[0] - a[0], 1e-9)
        own_cores = min(own_cores, busy_cores_f)
        other = max(0.0, busy_cores_f - own_cores)
        available = max(0.0, self.cores * (1.0 - steal) - other)
        return CpuSample(b[0], steal, idle, own_cores, other, available)

    def _run(self) -> None:
        previous = self._snapshot()
        self._first = previous
        self._last = previous
        while not self._stop.wait(self.interval):
            current = self._snapshot()
            sample = self._interval(previous, current)
            if sample is not None:
                self._samples.append(sample)
            previous = current
            self._last = current

    def start(self) -> CpuSampler:
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> CpuSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.summary()

    def __enter__(self) -> CpuSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self) -> CpuSummary:
        threads: dict[str, float] = {}
        for name, ticks in self._threads.values():
            threads[name] = threads.get(name, 0.0) + ticks / TICKS_PER_SECOND
        waits: dict[str, float] = {}
        if self._sched:  # schedstat is nanosecond-exact; prefer it for CPU too
            threads = {}
            for name, run_ns, wait_ns in self._sched.values():
                threads[name] = threads.get(name, 0.0) + run_ns / 1e9
                waits[name] = waits.get(name, 0.0) + wait_ns / 1e9
        whole = (
            self._interval(self._first, self._last)
            if self._first is not None and self._last is not None
            else None
        )
        seconds = (self._last[0] - self._first[0]) if self._first and self._last else 0.0
        if whole is None:
            return CpuSummary(
                self.cores, seconds, 0.0, 0.0, 0.0, 0.0, float(self.cores), threads, waits
            )
        return CpuSummary(
            cores=self.cores,
            seconds=seconds,
            steal_fraction=whole.steal_fraction,
            idle_fraction=whole.idle_fraction,
            own_cores=whole.own_cores,
            other_cores=whole.other_cores,
            available_cores=whole.available_cores,
            thread_cpu_sec=threads,
            thread_wait_sec=waits,
            samples=list(self._samples),
        )


# A child that forks `n` spinners; each counts loop iterations for `seconds` of wall time and
# reports them with its own CPU time, so the parent learns both how much CPU a process of this
# priority gets right now and how fast that CPU is (nanoseconds of CPU per iteration).
_SPINNER = r"""
import json, os, sys, time
seconds, n = float(sys.argv[1]), int(sys.argv[2])
pipes = []
for _ in range(n):
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        end = time.monotonic() + seconds
        count = 0
        while time.monotonic() < end:
            for i in range(2000):
                count += i & 3
        os.write(w, json.dumps([count // 3, time.process_time()]).encode())
        os._exit(0)
    os.close(w)
    pipes.append(r)
results = []
for r in pipes:
    results.append(json.loads(os.read(r, 4096)))
    os.wait()
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Availability:
    """CPU a prioritised process got while spinning just before a measurement."""

    cores: float  # CPU-seconds per second the spinners got together
    spinners: int
    seconds: float
    ns_per_iteration: float  # CPU speed: lower is faster
    loadavg: tuple[float, float, float]
    sampled_at: str
    # what one spinner alone got: one thread's ceiling (the kernel gives a group's weight to the
    # CPU its runnable threads are on, so one thread alone gets more than each of two)
    single_thread_cores: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_availability(
    *, seconds: float = 1.5, spinners: int | None = None, nice: int = 0, cpus: str | None = None
) -> Availability:
    """Spin `spinners` processes (default: one per core, or per CPU in `cpus`) for `seconds`
    at the priority db_bench will get (`nice`, its own session), then one alone, and measure
    the CPU they got.

    This is the CPU availability a prediction may use: sampled before the measurement, never
    during it.
    """
    import datetime as dt
    import json
    import os
    import subprocess
    import sys

    from modelyard.targets.dbbench.runner import set_priority

    if spinners is None:
        spinners = len(_cpu_list(cpus)) if cpus else read_proc_stat()[0]
    load = os.getloadavg()
    started = time.monotonic()

    def spin(count: int) -> tuple[float, float]:
        argv = [sys.executable, "-c", _SPINNER, str(seconds), str(count)]
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, start_new_session=True)
        if nice:
            set_priority(process.pid, nice)
        out, _ = process.communicate(timeout=seconds + 30)
        results = json.loads(out)
        cpu = sum(r[1] for r in results)
        iterations = sum(r[0] for r in results)
        return cpu / max(seconds, 1e-9), cpu / max(iterations, 1) * 1e9

    cores, ns_per_iteration = spin(spinners)
    single = spin(1)[0] if spinners > 1 else cores
    return Availability(
        cores=cores,
        spinners=spinners,
        seconds=time.monotonic() - started,
        ns_per_iteration=ns_per_iteration,
        loadavg=(load[0], load[1], load[2]),
        sampled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        single_thread_cores=single,
    )


def _cpu_list(cpus: str) -> list[int]:
    out: list[int] = []
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    return out

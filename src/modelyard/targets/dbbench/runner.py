"""Run db_bench once and collect everything it writes.

Each run gets a fresh `--db` directory under a temporary directory; the runner adds the flags
that make db_bench report (1 s report CSV, statistics, per-interval compaction stats on stderr),
samples CPU availability beside the process, and returns a `DbBenchRun` holding the raw texts and
the parsed views the measurement and calibration use.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from modelyard.perfmodels import DbBenchConfig
from modelyard.targets.dbbench import parsers
from modelyard.targets.dbbench.cpu import CpuSampler, CpuSummary

__all__ = [
    "DB_BENCH",
    "DbBenchMissingError",
    "DbBenchRun",
    "find_db_bench",
    "install_hint",
    "run_db_bench",
]

DB_BENCH = "/usr/bin/db_bench"
INSTALL_HINT = (
    "db_bench was not found. It comes from Debian's rocksdb-tools package (RocksDB 7.8):\n"
    "    sudo apt-get install -y rocksdb-tools\n"
    "or run `make system-deps`."
)


class DbBenchMissingError(RuntimeError):
    """db_bench is not installed."""


def install_hint() -> str:
    return INSTALL_HINT


def find_db_bench() -> str:
    found = shutil.which("db_bench") or (DB_BENCH if Path(DB_BENCH).exists() else None)
    if found is None:
        raise DbBenchMissingError(INSTALL_HINT)
    return found


# Flags the runner owns: a user's own values for them are replaced.
_OWNED = {
    "db",
    "report_file",
    "report_interval_seconds",
    "statistics",
    "stats_interval_seconds",
    "stats_per_interval",
    "histogram",
    "use_existing_db",
}


@dataclass
class DbBenchRun:
    """Raw outputs of one db_bench run and the parsed views of them."""

    config: DbBenchConfig
    argv: list[str]
    returncode: int
    wall_sec: float
    stdout: str
    stderr: str
    report_csv: str
    log: str
    cpu: CpuSummary
    timed_out: bool = False
    cpu_sec_total: float = 0.0  # exact user+system CPU of the db_bench process (rusage)
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def summary(self) -> dict[str, float] | None:
        return parsers.parse_summary_line(self.stdout)

    @cached_property
    def report(self) -> list[parsers.ReportRow]:
        return parsers.parse_report_csv(self.report_csv) if self.report_csv.strip() else []

    @cached_property
    def statistics(self) -> parsers.Statistics:
        return parsers.parse_statistics(self.stdout)

    @cached_property
    def events(self) -> list[dict[str, Any]]:
        return parsers.parse_event_log(self.log)

    @cached_property
    def compaction_stats(self) -> list[parsers.CompactionStats]:
        return parsers.parse_compaction_stats(self.stderr)

    @cached_property
    def db_stats(self) -> parsers.DbStats:
        return parsers.parse_db_stats(self.stderr)

    @property
    def ops_per_sec(self) -> float:
        if self.summary is not None:
            return self.summary["ops_per_sec"]
        total = sum(r.ops for r in self.report)
        return total / max(self.wall_sec, 1e-9)

    @property
    def operations(self) -> float:
        if self.summary is not None:
            return self.summary["operations"]
        return float(sum(r.ops for r in self.report))


def set_priority(pid: int, nice: int) -> None:
    autogroup = Path(f"/proc/{pid}/autogroup")
    try:
        if autogroup.exists():
            autogroup.write_text(str(nice))
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError:  # not permitted: measure at normal priority (the CPU sampler records it)
        pass


def _build_argv(binary: str, config: DbBenchConfig, db_dir: Path, report: Path) -> list[str]:
    args = [a for a in config.to_args() if a.lstrip("-").split("=", 1)[0] not in _OWNED]
    return [
        binary,
        *args,
        f"--db={db_dir}",
        f"--report_file={report}",
        "--report_interval_seconds=1",
        "--statistics=1",
        "--histogram=1",
        "--stats_interval_seconds=1",
        "--stats_per_interval=1",
    ]


def run_db_bench(
    config: DbBenchConfig,
    *,
    workdir: Path | None = None,
    timeout_sec: float | None = None,
    keep_dir: Path | None = None,
    nice: int = 0,
    cpus: str | None = None,
    cgroups: tuple[Path, ...] = (),
) -> DbBenchRun:
    """Run db_bench on a fresh database and return its outputs.

    `timeout_sec` defaults to the run's duration + 120 s (or 900 s for num-bounded runs); on
    timeout the process (only the one started here) is killed and `timed_out` is set.
    `keep_dir`, when given, receives copies of stdout, stderr, report.csv and LOG.
    `nice` < 0 raises db_bench's scheduling priority (needs root) so that, on a machine shared
    with other work, the CPU it gets depends less on what else runs; the CPU it actually had is
    recorded either way. With the kernel's autogroup scheduling (Debian's default) CPU is shared
    between sessions first, so db_bench gets a session of its own whose autogroup nice is set.
    `cpus` (a taskset CPU list such as "1") restricts db_bench and all its threads to those CPUs:
    a smaller machine's CPU budget on this one. `cgroups` are cgroup directories (v1 or v2)
    db_bench joins before it starts (a shell writes its pid to each `cgroup.procs`, then execs
    db_bench, so every thread it creates is inside): a CPU quota or a block-device limit.
    """
    binary = find_db_bench()
    if timeout_sec is None:
        timeout_sec = config.duration + 120.0 if config.duration > 0 else 900.0
    with tempfile.TemporaryDirectory(prefix="modelyard-dbbench-", dir=workdir) as tmp:
        root = Path(tmp)
        db_dir, report = root / "db", root / "report.csv"
        argv = _build_argv(binary, config, db_dir, report)
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]  # taskset execs db_bench: the same pid
        if cgroups:
            join = " && ".join(f'echo $$ > "{c / "cgroup.procs"}"' for c in cgroups)
            argv = ["sh", "-c", f'{join} && exec "$@"', "sh", *argv]
        out_path, err_path = root / "stdout.txt", root / "stderr.txt"
        started = time.monotonic()
        timed_out = False
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=bool(nice))
            if nice:
                set_priority(process.pid, nice)
            sampler = CpuSampler(process.pid, interval=0.5).start()
            try:
                returncode = process.wait(timeout=timeout_sec)
            except subprocess.TimeoutExpired:
                timed_out = True
                process.kill()
                returncode = process.wait()
            except BaseException:  # interrupted: never leave the db_bench started here behind
                process.kill()
                process.wait()
                sampler.stop()
                raise
            cpu = sampler.stop()
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_sec_total = (usage_after.ru_utime - usage_before.ru_utime) + (
            usage_after.ru_stime - usage_before.ru_stime
        )
        wall = time.monotonic() - started
        texts = {
            "stdout.txt": out_path.read_text(errors="replace"),
            "stderr.txt": err_path.read_text(errors="replace"),
            "report.csv": report.read_text() if report.exists() else "",
            "LOG": (db_dir / "LOG").read_text(errors="replace")
            if (db_dir / "LOG").exists()
            else "",
        }
        if keep_dir is not None:
            keep_dir.mkdir(parents=True, exist_ok=True)
            for name, text in texts.items():
                (keep_dir / name).write_text(text)
    return DbBenchRun(
        config=config,
        argv=argv,
        returncode=returncode,
        wall_sec=wall,
        stdout=texts["stdout.txt"],
        stderr=texts["stderr.txt"],
        report_csv=texts["report.csv"],
        log=texts["LOG"],
        cpu=cpu,
        timed_out=timed_out,
        cpu_sec_total=cpu_sec_total,
    )

"""``db_bench``: a db_bench process that modelyard starts and follows while it runs.

The db_bench runner (:mod:`modelyard.targets.dbbench.runner`) runs to completion and parses
afterwards; a live target reads the same outputs as they grow, with the same parsers: the
1-second ``--report_file`` rows (counts per interval, not rates), the LOG's EVENT_LOG_v1
events and its periodic STATISTICS dumps (tickers), and the stats db_bench prints on stderr
(DB stats with stall counts, compaction stats with the L0 file count).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Any

from modelyard.perfmodels import parse_db_bench_args
from modelyard.targets._logtail import LogTail, summarise_events
from modelyard.targets._process import ProcessMeter
from modelyard.targets.base import (
    Interval,
    TargetDown,
    TargetError,
    TargetFinished,
    judge_saturation,
)
from modelyard.targets.dbbench import parsers
from modelyard.targets.dbbench.runner import DbBenchMissingError, find_db_bench
from modelyard.targets.schemas import DbBenchTargetConfig

__all__ = ["DbBenchTarget", "build_argv"]

_OWNED = {
    "db",
    "benchmarks",
    "duration",
    "report_file",
    "report_interval_seconds",
    "statistics",
    "stats_interval_seconds",
    "stats_per_interval",
    "stats_dump_period_sec",
    "histogram",
    "use_existing_db",
}
_TICKERS = {
    "user_bytes": "rocksdb.bytes.written",
    "flush_bytes": "rocksdb.flush.write.bytes",
    "compaction_read_bytes": "rocksdb.compact.read.bytes",
    "compaction_write_bytes": "rocksdb.compact.write.bytes",
    "stall_micros": "rocksdb.stall.micros",
}
_STDERR_KEEP = 64 * 1024


def build_argv(binary: str, config: DbBenchTargetConfig, run_dir: Path) -> list[str]:
    user = [a for a in shlex.split(config.args) if a.lstrip("-").split("=", 1)[0] not in _OWNED]
    return [
        binary,
        *user,
        f"--benchmarks={config.benchmark}",
        f"--duration={config.duration_seconds}",
        f"--db={run_dir / 'db'}",
        f"--report_file={run_dir / 'report.csv'}",
        "--report_interval_seconds=1",
        "--statistics=1",
        "--stats_interval_seconds=1",
        "--stats_per_interval=1",
        "--stats_dump_period_sec=1",
    ]


class DbBenchTarget:
    kind = "db_bench"

    def __init__(
        self, config: DbBenchTargetConfig, workdir: Path, *, interval_seconds: float = 1.0
    ) -> None:
        self.config = config
        self.run_dir = workdir / "run"
        self.interval_seconds = interval_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.argv: list[str] = []
        self.configuration: dict[str, Any] = {}
        self._rows_seen = 0
        self._last_secs = 0.0
        self._started_at = 0.0
        self._log: LogTail | None = None
        self._stderr_offset = 0
        self._stderr_tail = ""
        self._tickers: dict[str, int] = {}
        self._stalls = 0
        self._pending: dict[int, float] = {}
        self._meter: ProcessMeter | None = None
        self._errors: deque[str] = deque(maxlen=5)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        self.stop()
        try:
            binary = find_db_bench()
        except DbBenchMissingError as exc:
            raise TargetError(str(exc)) from exc
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        self.argv = build_argv(binary, self.config, self.run_dir)
        parsed = parse_db_bench_args(self.argv[1:])
        self.configuration = {
            **parsed.model_dump(exclude={"extra"}),
            "engine": "db_bench",
            "db_bench_args": " ".join(
                a for a in self.argv[1:] if not a.startswith(("--db=", "--report_file="))
            ),
        }
        with (
            (self.run_dir / "stdout.txt").open("wb") as out,
            (self.run_dir / "stderr.txt").open("wb") as err,
        ):
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=err, cwd=self.run_dir)
        self._started_at = time.time()
        self._rows_seen = 0
        self._last_secs = 0.0
        self._log = LogTail(self.run_dir / "db" / "LOG")
        self._stderr_offset, self._stderr_tail = 0, ""
        self._tickers, self._stalls, self._pending = {}, 0, {}
        self._meter = ProcessMeter(self.process.pid)
        self._meter.sample()

    def _read_stderr(self) -> str:
        try:
            with (self.run_dir / "stderr.txt").open("r", errors="replace") as handle:
                handle.seek(self._stderr_offset)
                chunk = handle.read()
                self._stderr_offset = handle.tell()
        except OSError:
            return self._stderr_tail
        self._stderr_tail = (self._stderr_tail + chunk)[-_STDERR_KEEP:]
        return self._stderr_tail

    def collect(self) -> list[Interval]:
        if self.process is None or self._log is None:
            raise TargetDown("db_bench is not running")
        report = self.run_dir / "report.csv"
        rows = parsers.parse_report_csv(report.read_text()) if report.exists() else []
        new_rows = rows[self._rows_seen :]
        self._rows_seen = len(rows)
        if not new_rows:
            code = self.process.poll()
            if code is not None:
                tail = " | ".join(self._read_stderr().strip().splitlines()[-3:])
                if code == 0:
                    raise TargetFinished(
                        f"db_bench finished its {self.config.duration_seconds} s run"
                    )
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                raise TargetDown(
                    f"db_bench (pid {self.process.pid}) {how}" + (f": {tail}" if tail else "")
                )
            return []
        log_text = self._log.read_text()
        evidence = summarise_events(parsers.parse_event_log(log_text), self._pending)
        stats = parsers.parse_statistics(log_text)
        deltas: dict[str, int] = {}
        for name, ticker in _TICKERS.items():
            if ticker in stats.tickers:
                value = stats.tickers[ticker]
                deltas[name] = value - self._tickers.get(name, 0)
                self._tickers[name] = value
        stderr = self._read_stderr()
        db_stats = parsers.parse_db_stats(stderr)
        counts = db_stats.stall_counts
        stalls = counts.get("total-delays", 0) + counts.get("total-stops", 0)
        if db_stats.stall_format == "7.x":
            stalls = (
                counts.get("level0_slowdown", 0)
                + counts.get("level0_numfiles", 0)
                + counts.get("memtable_compaction", 0)
            )
        stall_delta, self._stalls = max(0, stalls - self._stalls), stalls
        tables = parsers.parse_compaction_stats(stderr)
        l0_files = tables[-1].level_files().get(0) if tables else None

        intervals: list[Interval] = []
        parsed = parse_db_bench_args(self.argv[1:])
        offered = parsed.rate_limit_ops if parsed.benchmark_write_rate_limit > 0 else None
        for row in new_rows:
            seconds = max(row.secs_elapsed - self._last_secs, 1e-3)
            self._last_secs = row.secs_elapsed
            metrics: dict[str, float] = {
                "ops_per_sec": row.ops / seconds,
                "ops_per_sec.put": row.ops / seconds,
            }
            if offered is not None:
                metrics["offered_ops_per_sec"] = offered
            intervals.append(
                Interval(
                    ts_ms=int((self._started_at + row.secs_elapsed) * 1000),
                    seconds=seconds,
                    metrics=metrics,
                    configuration=dict(self.configuration),
                )
            )
        last = intervals[-1]
        seconds = last.seconds
        for name, value in deltas.items():
            if name == "stall_micros":
                last.metrics["stall_micros_per_sec"] = value / seconds
            else:
                last.metrics[f"{name}_per_sec"] = value / seconds
        if deltas.get("user_bytes"):
            last.metrics["write_amplification"] = (
                deltas.get("flush_bytes", 0) + deltas.get("compaction_write_bytes", 0)
            ) / deltas["user_bytes"]
        last.metrics["stall_count"] = float(stall_delta)
        if l0_files is not None:
            last.metrics["l0_files"] = float(l0_files)
        if self._meter is not None:
            last.metrics.update(self._meter.sample())
        ops = sum(iv.metrics["ops_per_sec"] * iv.seconds for iv in intervals)
        last.evidence = {
            **evidence,
            "ops": ops,
            "seconds": seconds,
            "tickers": deltas,
            **{
                f"cpu_{g}_sec": last.metrics[f"cpu_{g}_cores"] * seconds
                for g in ("foreground", "flush", "compaction")
                if f"cpu_{g}_cores" in last.metrics
            },
        }
        for interval in intervals:
            saturated, reasons = judge_saturation(interval.metrics)
            if offered is None:
                saturated, reasons = True, ["closed-loop maximum", *reasons]
            interval.saturated, interval.saturation_reasons = saturated, reasons
        return intervals

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(self.run_dir / "db", ignore_errors=True)

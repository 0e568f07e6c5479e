"""The parent side of the embedded target: starts the worker, reads its reports, measures it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

from modelyard.targets._process import ProcessMeter
from modelyard.targets.base import Interval, TargetDown, TargetFinished, judge_saturation
from modelyard.targets.embedded.workload import WorkloadSpec

__all__ = ["EmbeddedRocksDbTarget", "interval_from_report"]


def _per_sec(value: float | int | None, seconds: float) -> float | None:
    return None if value is None else float(value) / seconds


def interval_from_report(report: dict[str, Any], spec: WorkloadSpec) -> Interval:
    """Turn one worker report line into an :class:`Interval` (CPU is added by the caller)."""
    seconds = float(report["seconds"])
    ops: dict[str, int] = report["ops"]
    total = sum(ops.values())
    metrics: dict[str, float] = {"ops_per_sec": total / seconds}
    for op, count in ops.items():
        if count:
            metrics[f"ops_per_sec.{op}"] = count / seconds
    worst: dict[str, float] = {}
    for key, value in report["latency_us"].items():
        if value is None:
            continue
        q, op = key.split(".")
        metrics[f"latency_{q}_us.{op}"] = float(value)
        worst[q] = max(worst.get(q, 0.0), float(value))
    for q, value in worst.items():
        metrics[f"latency_{q}_us"] = value
    offered = report.get("offered_ops_per_sec")
    if offered is not None:
        metrics["offered_ops_per_sec"] = float(offered)
    metrics["backlog_ops"] = float(report.get("backlog_ops") or 0.0)
    props = report.get("properties", {})
    for name in ("l0_files", "pending_compaction_bytes", "running_compactions", "memtable_bytes"):
        if props.get(name) is not None:
            metrics[name] = float(props[name])
    tickers = report.get("tickers", {})
    for name in ("user_bytes", "flush_bytes", "compaction_read_bytes", "compaction_write_bytes"):
        value = _per_sec(tickers.get(name), seconds)
        if value is not None:
            metrics[f"{name}_per_sec"] = value
    stall_micros = float(tickers.get("stall_micros", 0))
    metrics["stall_micros_per_sec"] = stall_micros / seconds
    metrics["stall_count"] = float(report.get("stall_count", 0))
    user = float(tickers.get("user_bytes", 0))
    if user > 0:
        written = float(tickers.get("flush_bytes", 0)) + float(
            tickers.get("compaction_write_bytes", 0)
        )
        metrics["write_amplification"] = written / user

    phase = report["phase"]
    _, reasons = judge_saturation(metrics)
    if offered is None:
        reasons.insert(0, "open-loop maximum")
    options = spec.options.model_dump()
    configuration: dict[str, Any] = {
        "engine": "rocksdb-embedded",
        "phase_index": report.get("phase_index", 0),
        "phase": phase.get("name", ""),
        "key_size": phase["key_size"],
        "value_size": (
            phase["value_size"]
            if phase.get("value_size_max") is None
            else (phase["value_size"] + phase["value_size_max"]) / 2
        ),
        "put_fraction": phase["put_fraction"],
        "get_fraction": phase["get_fraction"],
        "scan_fraction": phase["scan_fraction"],
        "batch_size": phase["batch_size"],
        "key_space": phase["key_space"],
        "rate": phase.get("rate"),
        "threads": phase.get("threads", 1),
        "key_distribution": phase.get("key_distribution", "uniform"),
        **options,
    }
    evidence = {
        "ops": total,
        "puts": ops.get("put", 0),
        "seconds": seconds,
        "tickers": tickers,
        **report.get("evidence", {}),
    }
    return Interval(
        ts_ms=int(float(report["t"]) * 1000),
        seconds=seconds,
        metrics=metrics,
        configuration=configuration,
        evidence=evidence,
        saturated=bool(reasons),
        saturation_reasons=reasons,
    )


class EmbeddedRocksDbTarget:
    """Runs the workload in a child process on a database under ``db_dir``."""

    kind = "rocksdb-embedded"

    def __init__(self, spec: WorkloadSpec, db_dir: Path, *, interval_seconds: float = 1.0) -> None:
        self.spec = spec
        self.db_dir = db_dir
        self.interval_seconds = interval_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=20)
        self._meter: ProcessMeter | None = None
        self._finished = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        self.stop()
        self.db_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "modelyard.targets.embedded.worker",
                    str(self.db_dir),
                    str(self.interval_seconds),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise TargetDown(f"could not start the workload process: {exc}") from exc
        assert self.process.stdin is not None
        self.process.stdin.write(self.spec.model_dump_json().encode() + b"\n")
        self.process.stdin.flush()
        self._lines = queue.Queue()
        self._finished = False
        self._pump(self.process.stdout, self._lines.put)
        self._pump(self.process.stderr, self._stderr.append)
        self._meter = ProcessMeter(self.process.pid)
        self._meter.sample()

    @staticmethod
    def _pump(stream: IO[bytes] | None, sink: Any) -> None:
        def run() -> None:
            assert stream is not None
            for raw in stream:
                sink(raw.decode(errors="replace").rstrip("\n"))

        threading.Thread(target=run, name="embedded-target-reader", daemon=True).start()

    def collect(self) -> list[Interval]:
        if self.process is None:
            raise TargetDown("the workload process is not running")
        reports: list[dict[str, Any]] = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            try:
                reports.append(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(line)
        intervals = [interval_from_report(r, self.spec) for r in reports]
        if any(r.get("finished") for r in reports):
            self._finished = True
        if intervals and self._meter is not None:
            # one /proc reading covers every report read now: each gets the span's average
            measured = self._meter.sample()
            for interval in intervals:
                interval.metrics.update(measured)
                self._add_cpu_evidence(interval)
        if not intervals:
            code = self.process.poll()
            if code is not None:
                if self._finished or code == 0:
                    raise TargetFinished("the workload finished")
                tail = " | ".join(list(self._stderr)[-3:]).strip()
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                raise TargetDown(
                    f"the workload process (pid {self.process.pid}) {how}"
                    + (f": {tail}" if tail else "")
                )
        return intervals

    @staticmethod
    def _add_cpu_evidence(interval: Interval) -> None:
        seconds = interval.seconds
        for group in ("foreground", "flush", "compaction"):
            value = interval.metrics.get(f"cpu_{group}_cores")
            if value is not None:
                interval.evidence[f"cpu_{group}_sec"] = value * seconds
        if "cpu_available_cores" in interval.metrics:
            interval.evidence["cpu_available_cores"] = interval.metrics["cpu_available_cores"]

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

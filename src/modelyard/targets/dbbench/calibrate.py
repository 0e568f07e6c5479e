"""Calibration: measure this machine once and produce a `perfmodels.Profile`.

- Device envelope: four short fio runs (`--direct=1 --ioengine=libaio`): 1 MiB sequential write
  and read at QD16, a 1 MiB 50/50 random mix at QD16, 4 KiB random writes at QD32.
- CPU costs: short closed db_bench runs (`CALIBRATION_RUNS`: 128 B and 1500 B values, with and
  without snappy, 6 MiB memtables; none of them is a validation configuration). For each
  compression type:
  * compaction: least squares (non-negative) of every `compaction_finished` event's
    `compaction_time_cpu_micros` on a*records + b*bytes, records = input + output records,
    bytes = `input_data_size` (from the matching `compaction_started`) + `total_output_size`;
  * flush: the flush thread's (`rocksdb:high`) CPU per run on a*entries + b*bytes written;
  * foreground: the rest of the process CPU (exact, from rusage) per put, fitted as
    c0 + c1*(key+value bytes) over the single-writer runs; the two-writer run gives the extra
    CPU per put that concurrent writers cost (write-group hand-offs and spinning).
  * blocked time: compaction wall time (`compaction_time_micros`) minus its CPU minus the
    compaction thread's run-queue wait (/proc/<pid>/task/<tid>/schedstat), per byte written;
    the same for flushes (`rocksdb.db.flush.micros`, the `rocksdb:high` thread): the time a
    background thread spends blocked on I/O (fsync, writes), which no CPU can shorten.
- CPU availability: the mean cores available to db_bench during the runs.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from modelyard.perfmodels import (
    CpuCost,
    DbBenchConfig,
    DeviceEnvelope,
    Profile,
    parse_db_bench_args,
)
from modelyard.targets.dbbench.measure import wait_for_quiet
from modelyard.targets.dbbench.runner import DbBenchRun, run_db_bench

__all__ = [
    "CALIBRATION_RUNS",
    "FioMissingError",
    "calibrate",
    "compaction_samples",
    "fio_envelope",
    "fit_cpu_cost",
    "profile_from_runs",
]

CALIBRATION_RUNS = [
    "--benchmarks=fillrandom --num=4000000 --duration=12 --value_size=128 "
    "--write_buffer_size=6291456 --compression_type=none --seed=7",
    "--benchmarks=fillrandom --num=600000 --duration=12 --value_size=1500 "
    "--write_buffer_size=6291456 --compression_type=none --seed=7",
    "--benchmarks=fillrandom --num=4000000 --duration=12 --value_size=128 "
    "--write_buffer_size=6291456 --compression_type=snappy --seed=7",
    "--benchmarks=fillrandom --num=600000 --duration=12 --value_size=1500 "
    "--write_buffer_size=6291456 --compression_type=snappy --seed=7",
    "--benchmarks=fillrandom --num=4000000 --duration=12 --value_size=128 "
    "--write_buffer_size=6291456 --compression_type=none --threads=2 --seed=7",
]


class FioMissingError(RuntimeError):
    """fio is not installed."""


def _fio(directory: Path, name: str, args: list[str]) -> dict[str, Any]:
    binary = shutil.which("fio")
    if binary is None:
        raise FioMissingError("fio was not found: sudo apt-get install -y fio")
    argv = [
        binary,
        f"--name={name}",
        f"--filename={directory / 'fio.dat'}",
        "--size=512M",
        "--direct=1",
        "--ioengine=libaio",
        "--runtime=4",
        "--time_based",
        "--output-format=json",
        *args,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    data: dict[str, Any] = json.loads(out.stdout)
    job: dict[str, Any] = data["jobs"][0]
    return job


def fio_envelope(directory: Path | None = None) -> DeviceEnvelope:
    """Four 4-second fio runs in a temporary file under `directory` (default: /tmp)."""
    with tempfile.TemporaryDirectory(prefix="modelyard-fio-", dir=directory) as tmp:
        root = Path(tmp)
        seq_w = _fio(root, "seqwrite", ["--rw=write", "--bs=1M", "--iodepth=16"])
        seq_r = _fio(root, "seqread", ["--rw=read", "--bs=1M", "--iodepth=16"])
        mixed = _fio(root, "mixed", ["--rw=randrw", "--rwmixread=50", "--bs=1M", "--iodepth=16"])
        rand_w = _fio(root, "randwrite", ["--rw=randwrite", "--bs=4k", "--iodepth=32"])
    return DeviceEnvelope(
        seq_write_bytes_per_sec=float(seq_w["write"]["bw_bytes"]),
        seq_read_bytes_per_sec=float(seq_r["read"]["bw_bytes"]),
        mixed_read_bytes_per_sec=float(mixed["read"]["bw_bytes"]),
        mixed_write_bytes_per_sec=float(mixed["write"]["bw_bytes"]),
        rand_write_bytes_per_sec=float(rand_w["write"]["bw_bytes"]),
    )


def compaction_samples(events: list[dict[str, Any]]) -> list[tuple[float, float, float]]:
    """(records, bytes, cpu seconds) per finished compaction (trivial moves have no CPU)."""
    inputs: dict[int, float] = {}
    out: list[tuple[float, float, float]] = []
    for event in events:
        kind = event.get("event")
        if kind == "compaction_started":
            inputs[int(event.get("job", -1))] = float(event.get("input_data_size", 0))
        elif kind == "compaction_finished":
            cpu = float(event.get("compaction_time_cpu_micros", 0)) / 1e6
            records = float(event.get("num_input_records", 0)) + float(
                event.get("num_output_records", 0)
            )
            nbytes = inputs.get(int(event.get("job", -1)), 0.0) + float(
                event.get("total_output_size", 0)
            )
            if cpu > 0 and records > 0:
                out.append((records, nbytes, cpu))
    return out


def fit_cpu_cost(samples: list[tuple[float, float, float]]) -> tuple[CpuCost, float]:
    """Non-negative least squares of cpu on (records, bytes); returns the cost and R^2."""
    if not samples:
        raise ValueError("no samples to fit")
    x = np.array([[s[0], s[1]] for s in samples], dtype=float)
    y = np.array([s[2] for s in samples], dtype=float)
    scale = x.max(axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls(x / scale, y)
    coef = coef / scale
    fitted = x @ coef
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2)) or 1.0
    cost = CpuCost(cpu_sec_per_record=float(coef[0]), cpu_sec_per_byte=float(coef[1]))
    return cost, 1.0 - ss_res / ss_tot


def _flush_sample(run: DbBenchRun) -> tuple[float, float, float]:
    entries = sum(
        float(e.get("num_entries", 0)) for e in run.events if e.get("event") == "flush_started"
    )
    written = float(run.statistics.tickers.get("rocksdb.flush.write.bytes", 0))
    cpu = run.cpu.thread_cpu_sec.get("rocksdb:high", 0.0)
    return entries, written, cpu


def profile_from_runs(
    runs: list[DbBenchRun], *, name: str, envelope: DeviceEnvelope | None
) -> Profile:
    """Fit a profile from finished calibration runs (see the module docstring)."""
    by_compression: dict[str, list[DbBenchRun]] = {}
    for run in runs:
        key = "snappy" if run.config.compressed else "none"
        by_compression.setdefault(key, []).append(run)
    compaction_costs: dict[str, CpuCost] = {}
    flush_costs: dict[str, CpuCost] = {}
    quality: dict[str, Any] = {}
    comp_bytes = comp_cpu = 0.0
    for key, group in by_compression.items():
        samples = [s for run in group for s in compaction_samples(run.events)]
        cost, r2 = fit_cpu_cost(samples)
        compaction_costs[key] = cost
        comp_bytes += sum(s[1] for s in samples)
        comp_cpu += sum(s[2] for s in samples)
        flush_samples = [_flush_sample(run) for run in group]
        flush_cost, flush_r2 = fit_cpu_cost([s for s in flush_samples if s[2] > 0])
        flush_costs[key] = flush_cost
        quality[key] = {
            "compactions": len(samples),
            "compaction_r2": r2,
            "flush_runs": len(flush_samples),
            "flush_r2": flush_r2,
        }
    # blocked (I/O) time of the background threads, per byte written
    comp_blocked = comp_written = flush_blocked = flush_written = 0.0
    for run in runs:
        wall = cpu = written = 0.0
        for event in run.events:
            if event.get("event") == "compaction_finished":
                wall += float(event.get("compaction_time_micros", 0)) / 1e6
                cpu += float(event.get("compaction_time_cpu_micros", 0)) / 1e6
                written += float(event.get("total_output_size", 0))
        waited = run.cpu.thread_wait_sec.get("rocksdb:low", 0.0)
        comp_blocked += max(wall - cpu - waited, 0.0)
        comp_written += written
        flush_hist = run.statistics.histograms.get("rocksdb.db.flush.micros")
        if flush_hist is not None:
            flush_wall = flush_hist.sum / 1e6
            flush_cpu = run.cpu.thread_cpu_sec.get("rocksdb:high", 0.0)
            flush_wait = run.cpu.thread_wait_sec.get("rocksdb:high", 0.0)
            flush_blocked += max(flush_wall - flush_cpu - flush_wait, 0.0)
            flush_written += float(run.statistics.tickers.get("rocksdb.flush.write.bytes", 0))
    quality["blocked"] = {
        "compaction_blocked_sec": comp_blocked,
        "compaction_written_bytes": comp_written,
        "flush_blocked_sec": flush_blocked,
        "flush_written_bytes": flush_written,
    }
    # foreground: process CPU minus compaction (events) and flush (thread) CPU, per put
    rows: list[tuple[float, float, int]] = []
    for run in runs:
        comp = sum(s[2] for s in compaction_samples(run.events))
        flush = run.cpu.thread_cpu_sec.get("rocksdb:high", 0.0)
        fg = max(run.cpu_sec_total - comp - flush, 0.0)
        if run.operations > 0:
            rows.append((float(run.config.entry_bytes), fg / run.operations, run.config.threads))
    single = [r for r in rows if r[2] == 1]
    x = np.array([[1.0, r[0]] for r in single])
    y = np.array([r[1] for r in single])
    coef, _ = nnls(x, y)
    concurrent = [r[1] - (coef[0] + coef[1] * r[0]) for r in rows if r[2] > 1]
    concurrent_extra = max(float(np.mean(concurrent)), 0.0) if concurrent else 0.0
    available = float(np.mean([run.cpu.available_cores for run in runs]))
    cores = runs[0].cpu.cores
    return Profile(
        name=name,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cores=cores,
        cpu_available_cores=available,
        foreground_cpu_sec_per_op=float(coef[0]),
        foreground_cpu_sec_per_byte=float(coef[1]),
        foreground_cpu_sec_per_op_concurrent=concurrent_extra,
        flush_costs=flush_costs,
        compaction_costs=compaction_costs,
        device=envelope,
        compaction_io_sec_per_byte=comp_blocked / comp_written if comp_written else 0.0,
        flush_io_sec_per_byte=flush_blocked / flush_written if flush_written else 0.0,
        compaction_bytes_per_cpu_sec=comp_bytes / comp_cpu if comp_cpu else None,
        calibration={
            "runs": [
                {
                    "db_bench_args": " ".join(run.config.to_args()),
                    "ops_per_sec": run.ops_per_sec,
                    "process_cpu_sec": run.cpu_sec_total,
                    "thread_cpu_sec": run.cpu.thread_cpu_sec,
                    "thread_wait_sec": run.cpu.thread_wait_sec,
                    "available_cores": run.cpu.available_cores,
                    "steal_fraction": run.cpu.steal_fraction,
                    "other_cores": run.cpu.other_cores,
                }
                for run in runs
            ],
            "fit": quality,
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor(),
            },
        },
    )


def calibrate(
    *,
    name: str = "default",
    run_args: list[str] | None = None,
    with_fio: bool = True,
    workdir: Path | None = None,
    on_run: Callable[[DbBenchRun], None] | None = None,
    nice: int = 0,
) -> Profile:
    """Run fio and the calibration db_bench runs, then fit the profile."""
    envelope = fio_envelope(workdir) if with_fio else None
    runs: list[DbBenchRun] = []
    for args in run_args or CALIBRATION_RUNS:
        config: DbBenchConfig = parse_db_bench_args(args)
        wait_for_quiet(0.25, 60.0)
        run = run_db_bench(config, workdir=workdir, nice=nice)
        if run.returncode != 0:
            raise RuntimeError(f"db_bench failed ({run.returncode}): {run.stderr[-2000:]}")
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return profile_from_runs(runs, name=name, envelope=envelope)

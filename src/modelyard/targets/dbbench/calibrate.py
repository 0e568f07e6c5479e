"""Calibration: measure this machine and produce a `perfmodels.Profile` with its spread.

What moves and what does not (measured with `bench/smax_noise.py`, see docs/smax.md): within a
day the writer's CPU per put repeats within ±4% whether the run lasts 12 or 40 s and whether it
is closed or rate-limited; it grows with the memtable (4.4 µs with 6 MiB, 5.9 µs with 64 MiB for
144 B puts) and with the value; between days the whole machine's CPU-second changes speed (the
same run cost 8.1 µs per put another day). The cores db_bench gets at its priority follow the
other users' load. So the calibration:

- measures every cost on the thread that pays it, never as a residual: the writer threads'
  CPU (`db_bench`, /proc schedstat), the flush thread's (`rocksdb:high`) and every compaction's
  `compaction_time_cpu_micros`;
- spans what the costs depend on: value sizes 32 B - 4 KB, memtables 2 - 64 MiB, every
  compression type RocksDB 7.8 offers here (none, snappy, lz4, zstd), one and four writers;
- repeats the runs (`repeats`, default 2) and keeps the scatter of the per-run costs around the
  fit (`Profile.spread`);
- samples, before each run, the cores and the CPU speed a spinner at db_bench's priority gets
  (`cpu.sample_availability`), and keeps their distribution (`Profile.availability`,
  `cpu_speed_ns_per_iteration`).

Fits (non-negative least squares):
- writer per put: w0 + w_b (key + value) + w_m log2(entries per memtable), single-writer runs;
  the multi-writer runs' excess over it, per extra thread, is the concurrency factor;
- compaction: cpu = a records + b_c bytes over every `compaction_finished` event (records = input
  + output, bytes = input + output on disk), a shared by all types, b_c per compression type;
- flush: the `rocksdb:high` thread's CPU per run = a_f entries + b_fc bytes written, likewise;
- compressed fraction per type: SST bytes of the values / raw value bytes (table properties);
- blocked time: compaction wall time minus CPU minus the compaction thread's run-queue wait,
  per byte written (the same for flushes).

The device envelope comes from fio (`--direct=1 --ioengine=libaio`, 4 s each, under the budget's
write limit when there is one).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from modelyard.perfmodels import (
    COMPRESSION_TYPES,
    AvailabilityStats,
    CostSpread,
    CpuCost,
    DeviceEnvelope,
    Profile,
    parse_db_bench_args,
)
from modelyard.targets.dbbench.budget import Budget
from modelyard.targets.dbbench.cpu import Availability, sample_availability
from modelyard.targets.dbbench.runner import DbBenchRun, run_db_bench

__all__ = [
    "CALIBRATION_RUNS",
    "CalibrationRun",
    "FioMissingError",
    "calibrate",
    "calibration_samples",
    "compaction_samples",
    "fio_envelope",
    "fit_cpu_cost",
    "profile_from_runs",
    "profile_from_samples",
]

_COMMON = "--benchmarks=fillrandom --duration=10 --seed=7"
MIB = 2**20
CALIBRATION_RUNS = [
    f"{_COMMON} --num=4000000 --value_size=128 --write_buffer_size={6 * MIB} --compression_type=none",
    f"{_COMMON} --num=1000000 --value_size=1500 --write_buffer_size={6 * MIB} --compression_type=none",
    f"{_COMMON} --num=8000000 --key_size=8 --value_size=32 --write_buffer_size={2 * MIB} "
    "--compression_type=none",
    f"{_COMMON} --num=400000 --value_size=4000 --write_buffer_size={16 * MIB} "
    "--compression_type=none",
    f"{_COMMON} --num=4000000 --value_size=128 --write_buffer_size={64 * MIB} "
    "--compression_type=none",
    f"{_COMMON} --num=1000000 --value_size=1500 --write_buffer_size={6 * MIB} "
    "--compression_type=snappy",
    f"{_COMMON} --num=1000000 --value_size=1500 --write_buffer_size={6 * MIB} "
    "--compression_type=lz4",
    f"{_COMMON} --num=1000000 --value_size=1500 --write_buffer_size={6 * MIB} "
    "--compression_type=zstd",
    f"{_COMMON} --num=4000000 --value_size=128 --write_buffer_size={6 * MIB} "
    "--compression_type=zstd",
    f"{_COMMON} --num=4000000 --value_size=128 --write_buffer_size={6 * MIB} "
    "--compression_type=none --threads=4",
    f"{_COMMON} --num=1000000 --value_size=1000 --write_buffer_size={32 * MIB} "
    "--compression_type=lz4 --threads=2",
]


class FioMissingError(RuntimeError):
    """fio is not installed."""


@dataclass
class CalibrationRun:
    """One calibration db_bench run and the CPU availability sampled just before it."""

    run: DbBenchRun
    availability: Availability
    extra: dict[str, Any] = field(default_factory=dict)


def _fio(directory: Path, name: str, args: list[str], cgroups: tuple[Path, ...]) -> dict[str, Any]:
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
    if cgroups:
        join = " && ".join(f'echo $$ > "{c / "cgroup.procs"}"' for c in cgroups)
        argv = ["sh", "-c", f'{join} && exec "$@"', "sh", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    data: dict[str, Any] = json.loads(out.stdout)
    job: dict[str, Any] = data["jobs"][0]
    return job


def fio_envelope(directory: Path | None = None, budget: Budget | None = None) -> DeviceEnvelope:
    """Four 4-second fio runs in a temporary file under `directory` (default: /tmp)."""
    with tempfile.TemporaryDirectory(prefix="modelyard-fio-", dir=directory) as tmp:
        root = Path(tmp)
        groups = budget.cgroups(root) if budget is not None else ()
        seq_w = _fio(root, "seqwrite", ["--rw=write", "--bs=1M", "--iodepth=16"], groups)
        seq_r = _fio(root, "seqread", ["--rw=read", "--bs=1M", "--iodepth=16"], groups)
        mixed = _fio(
            root, "mixed", ["--rw=randrw", "--rwmixread=50", "--bs=1M", "--iodepth=16"], groups
        )
        rand_w = _fio(root, "randwrite", ["--rw=randwrite", "--bs=4k", "--iodepth=32"], groups)
    return DeviceEnvelope(
        discard=mounted_with_discard(directory or Path(tempfile.gettempdir())),
        seq_write_bytes_per_sec=float(seq_w["write"]["bw_bytes"]),
        seq_read_bytes_per_sec=float(seq_r["read"]["bw_bytes"]),
        mixed_read_bytes_per_sec=float(mixed["read"]["bw_bytes"]),
        mixed_write_bytes_per_sec=float(mixed["write"]["bw_bytes"]),
        rand_write_bytes_per_sec=float(rand_w["write"]["bw_bytes"]),
    )


def mounted_with_discard(path: Path) -> bool:
    """Whether the file system holding `path` is mounted with online discard (deleted files'
    blocks are discarded at once: device work a write limit counts)."""
    best, options = "", ""
    target = str(path.resolve())
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        inside = target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")
        if len(fields) >= 4 and inside and len(fields[1]) >= len(best):
            best, options = fields[1], fields[3]
    return "discard" in options.split(",")


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
    coef, r2 = _nnls(x, y)
    return CpuCost(cpu_sec_per_record=float(coef[0]), cpu_sec_per_byte=float(coef[1])), r2


def _nnls(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[Any, float]:
    """Scaled non-negative least squares; returns the coefficients and R^2."""
    w = np.ones(len(y)) if weights is None else weights
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls((x / scale) * w[:, None], y * w)
    coef = coef / scale
    fitted = x @ coef
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return coef, 1.0 - ss_res / ss_tot


def _log_sigma(ratios: list[float]) -> float:
    logs = [math.log(r) for r in ratios if r > 0]
    return float(np.std(logs)) if len(logs) >= 2 else 0.0


def _blocked(runs: list[CalibrationRun]) -> tuple[float, float, dict[str, float]]:
    comp_blocked = comp_written = flush_blocked = flush_written = 0.0
    for item in runs:
        run = item.run
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
    return (
        comp_blocked / comp_written if comp_written else 0.0,
        flush_blocked / flush_written if flush_written else 0.0,
        {
            "compaction_blocked_sec": comp_blocked,
            "compaction_written_bytes": comp_written,
            "flush_blocked_sec": flush_blocked,
            "flush_written_bytes": flush_written,
        },
    )


def calibration_samples(runs: list[CalibrationRun]) -> dict[str, Any]:
    """What the fits use, per run, as plain JSON (kept in the profile so it can be refitted).

    - writer: [threads, entry bytes, entries per memtable, writer CPU per put];
    - flush: [compression, entries flushed, bytes written, flush thread CPU];
    - compactions: [compression, records, bytes, CPU] per finished compaction;
    - fractions: [compression, SST bytes of values, raw value bytes];
    - availability: [cores sampled before, cores the run used, CPU speed (ns/iteration),
      cores one thread alone got];
    - blocked: compaction and flush wall time off CPU and bytes written.
    """
    writer: list[list[float]] = []
    flush: list[list[Any]] = []
    compactions: list[list[Any]] = []
    fractions: list[list[Any]] = []
    availability: list[list[float]] = []
    for item in runs:
        run, config = item.run, item.run.config
        kind = config.compression_type
        cpu = run.cpu.thread_cpu_sec.get("db_bench", 0.0)
        if run.operations > 0 and cpu > 0:
            writer.append(
                [
                    float(config.threads),
                    float(config.entry_bytes),
                    config.entries_per_memtable,
                    cpu / run.operations,
                ]
            )
        entries = sum(
            float(e.get("num_entries", 0)) for e in run.events if e.get("event") == "flush_started"
        )
        written = float(run.statistics.tickers.get("rocksdb.flush.write.bytes", 0))
        flush_cpu = run.cpu.thread_cpu_sec.get("rocksdb:high", 0.0)
        if entries > 0 and flush_cpu > 0:
            flush.append([kind, entries, written, flush_cpu])
        compactions.extend([kind, *sample] for sample in compaction_samples(run.events))
        kept = raw = 0.0
        for event in run.events:
            props = event.get("table_properties")
            if event.get("event") != "table_file_creation" or not isinstance(props, dict):
                continue
            values = float(props.get("raw_value_size", 0))
            if values > 0:
                keys = float(props.get("raw_key_size", 0))
                kept += max(float(event.get("file_size", 0)) - keys, 0.0)
                raw += values
        if raw > 0:
            fractions.append([kind, kept, raw])
        availability.append(
            [
                item.availability.cores,
                run.cpu.own_cores,
                item.availability.ns_per_iteration,
                item.availability.single_thread_cores or item.availability.cores,
            ]
        )
    comp_io, flush_io, blocked = _blocked(runs)
    return {
        "writer": writer,
        "flush": flush,
        "compactions": compactions,
        "fractions": fractions,
        "availability": availability,
        "blocked": blocked | {"compaction_sec_per_byte": comp_io, "flush_sec_per_byte": flush_io},
    }


def _per_type_fit(
    rows: list[list[Any]], types: list[str]
) -> tuple[dict[str, CpuCost], float, list[float]]:
    """cpu = a * records + b_type * bytes: one per-record cost, a per-byte cost per type.

    Ordinary least squares on the CPU-seconds (the large jobs, which hold most of the CPU,
    count most); returns the costs, R^2 and each row's measured / fitted ratio.
    """
    x = np.array([[float(r[1])] + [float(r[2]) if t == r[0] else 0.0 for t in types] for r in rows])
    y = np.array([float(r[3]) for r in rows])
    coef, r2 = _nnls(x, y)
    costs = {
        t: CpuCost(cpu_sec_per_record=float(coef[0]), cpu_sec_per_byte=float(coef[1 + i]))
        for i, t in enumerate(types)
    }
    return costs, r2, [float(v) for v in y / np.maximum(x @ coef, 1e-12)]


def _weighted_log_sigma(ratios: list[float], weights: list[float]) -> float:
    """Spread of log(ratio), each weighted (by the CPU it stands for)."""
    pairs = [(math.log(r), w) for r, w in zip(ratios, weights, strict=True) if r > 0 and w > 0]
    if len(pairs) < 2:
        return 0.0
    total = sum(w for _, w in pairs)
    mean = sum(v * w for v, w in pairs) / total
    return math.sqrt(sum(w * (v - mean) ** 2 for v, w in pairs) / total)


def _writer_x(row: list[float]) -> list[float]:
    return [1.0, row[1], math.log2(max(row[2], 2.0))]


def profile_from_samples(
    samples: dict[str, Any],
    *,
    name: str,
    envelope: DeviceEnvelope | None,
    budget: dict[str, Any] | None = None,
    cores: int = 2,
    created_at: str | None = None,
) -> Profile:
    """Fit a profile from `calibration_samples` (see the module docstring)."""
    writer = samples["writer"]
    single = [r for r in writer if r[0] == 1]
    if not single:
        raise ValueError("the calibration needs at least one single-writer run")
    x = np.array([_writer_x(r) for r in single])
    y = np.array([r[3] for r in single])
    coef, writer_r2 = _nnls(x, y, 1.0 / y)
    writer_ratios = [float(v) for v in y / np.maximum(x @ coef, 1e-12)]
    # several writers: the measured cost over the single-writer fit, per extra thread
    concurrent = [
        (r[3] / float(np.dot(coef, _writer_x(r))) - 1.0) / (r[0] - 1) for r in writer if r[0] > 1
    ]
    concurrency = max(float(np.mean(concurrent)), 0.0) if concurrent else 0.0

    comp_rows = samples["compactions"]
    types = sorted({r[0] for r in comp_rows} | {r[0] for r in samples["flush"]})
    compaction_costs, comp_r2, comp_ratios = _per_type_fit(comp_rows, types)
    flush_costs, flush_r2, flush_ratios = _per_type_fit(samples["flush"], types)
    fractions: dict[str, list[float]] = {}
    for kind, kept, raw in samples["fractions"]:
        acc = fractions.setdefault(kind, [0.0, 0.0])
        acc[0] += kept
        acc[1] += raw
    avail = samples["availability"]
    before = [a[0] for a in avail]
    use = [a[1] / a[0] for a in avail if a[0] > 0 and a[1] > 0]
    speeds = [a[2] for a in avail]
    singles = [a[3] for a in avail if len(a) > 3]
    availability = AvailabilityStats(
        median_cores=float(np.median(before)),
        median_single_thread_cores=float(np.median(singles)) if singles else None,
        p10_cores=float(np.quantile(before, 0.1)),
        p90_cores=float(np.quantile(before, 0.9)),
        samples=len(before),
        closed_use_ratio=float(np.median(use)) if use else 1.0,
        closed_use_ratio_sigma=_log_sigma(use),
    )
    comp_bytes = sum(float(r[2]) for r in comp_rows)
    comp_cpu = sum(float(r[3]) for r in comp_rows)
    blocked = samples["blocked"]
    return Profile(
        name=name,
        created_at=created_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cores=cores,
        cpu_available_cores=availability.median_cores,
        foreground_cpu_sec_per_op=float(coef[0]),
        foreground_cpu_sec_per_byte=float(coef[1]),
        foreground_cpu_sec_per_memtable_doubling=float(coef[2]),
        foreground_concurrency_factor=concurrency,
        flush_costs=flush_costs,
        compaction_costs=compaction_costs,
        compressed_fraction={
            k: min(1.0, v[0] / v[1]) for k, v in fractions.items() if k != "none" and v[1] > 0
        },
        device=envelope,
        compaction_io_sec_per_byte=float(blocked["compaction_sec_per_byte"]),
        flush_io_sec_per_byte=float(blocked["flush_sec_per_byte"]),
        compaction_bytes_per_cpu_sec=comp_bytes / comp_cpu if comp_cpu else None,
        cpu_speed_ns_per_iteration=float(np.median(speeds)),
        availability=availability,
        spread=CostSpread(
            writer=_log_sigma(writer_ratios),
            flush=_weighted_log_sigma(flush_ratios, [float(r[3]) for r in samples["flush"]]),
            compaction=_weighted_log_sigma(comp_ratios, [float(r[3]) for r in comp_rows]),
            speed=_log_sigma(speeds),
        ),
        budget=budget or {},
        calibration={
            "samples": samples,
            "fit": {
                "writer_r2": writer_r2,
                "compaction_r2": comp_r2,
                "flush_r2": flush_r2,
                "compactions": len(comp_rows),
            },
        },
    )


def profile_from_runs(
    runs: list[CalibrationRun],
    *,
    name: str,
    envelope: DeviceEnvelope | None,
    budget: Budget | None = None,
) -> Profile:
    """Fit a profile from finished calibration runs; the runs' summaries are kept with it."""
    profile = profile_from_samples(
        calibration_samples(runs),
        name=name,
        envelope=envelope,
        budget=(budget or Budget()).to_dict(),
        cores=runs[0].run.cpu.cores,
    )
    profile.calibration["runs"] = [
        {
            "db_bench_args": " ".join(item.run.config.to_args()),
            "ops_per_sec": item.run.ops_per_sec,
            "operations": item.run.operations,
            "process_cpu_sec": item.run.cpu_sec_total,
            "thread_cpu_sec": item.run.cpu.thread_cpu_sec,
            "thread_wait_sec": item.run.cpu.thread_wait_sec,
            "own_cores": item.run.cpu.own_cores,
            "steal_fraction": item.run.cpu.steal_fraction,
            "other_cores": item.run.cpu.other_cores,
            "availability_before": item.availability.to_dict(),
            **item.extra,
        }
        for item in runs
    ]
    profile.calibration["machine"] = {
        "platform": platform.platform(),
        "processor": platform.processor(),
    }
    return profile


def calibrate(
    *,
    name: str = "default",
    run_args: list[str] | None = None,
    repeats: int = 2,
    with_fio: bool = True,
    workdir: Path | None = None,
    on_run: Callable[[CalibrationRun], None] | None = None,
    nice: int = 0,
    budget: Budget | None = None,
) -> Profile:
    """Run fio and the calibration db_bench runs `repeats` times, then fit the profile."""
    budget = budget or Budget(nice=nice)
    envelope = fio_envelope(workdir, budget) if with_fio else None
    cgroups = budget.cgroups(workdir or Path(tempfile.gettempdir()))
    args_list = run_args or CALIBRATION_RUNS
    missing = set(COMPRESSION_TYPES) - {parse_db_bench_args(a).compression_type for a in args_list}
    runs: list[CalibrationRun] = []
    for repeat in range(repeats):
        for args in args_list:
            config = parse_db_bench_args(args)
            availability = sample_availability(nice=budget.nice, cpus=budget.cpus)
            run = run_db_bench(
                config, workdir=workdir, nice=budget.nice, cpus=budget.cpus, cgroups=cgroups
            )
            if run.returncode != 0:
                raise RuntimeError(f"db_bench failed ({run.returncode}): {run.stderr[-2000:]}")
            item = CalibrationRun(run, availability, {"repeat": repeat})
            runs.append(item)
            if on_run is not None:
                on_run(item)
    profile = profile_from_runs(runs, name=name, envelope=envelope, budget=budget)
    if missing:
        profile.calibration["missing_compressions"] = sorted(missing)
    return profile

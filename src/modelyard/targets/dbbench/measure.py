"""Ground truth: S_max measured the way Luo & Carey (PVLDB 13(4), 2019) do.

1. A closed run (no rate limit) finds the maximum write rate M. It is NOT S_max: an overloaded
   LSM defers compaction, so its write amplification is lower than at a sustainable rate.
2. Open runs at `--benchmark_write_rate_limit` rates bisect between the highest rate found
   sustainable and the lowest found unsustainable (the first probe is `first_fraction * M`).

A probe is sustainable when (`assess_probe`):
- stalls take under 1% of the run (`rocksdb.stall.micros` over the run's seconds);
- the throughput's coefficient of variation over the second half is under 5% (report CSV, whose
  values are counts per 1 s interval);
- the second half reaches at least 95% of the target rate (the writer kept up);
- the L0 file count does not trend upward over the second half (least-squares increase, from the
  LOG's lsm_state, of at most `level0_file_num_compaction_trigger` files) and never reaches the
  slowdown trigger;
- the estimated pending compaction bytes below L0 (RocksDB's estimate from the per-second level
  sizes, without the L0 term the L0 criterion covers) do not trend upward: least-squares
  increase over the second half at most half their mean or two L0 batches, whichever is larger.

The machine is shared. Before the closed run the measurement samples the CPU availability a
prediction may use (`cpu.sample_availability`: what spinners at db_bench's priority and on its
CPUs got over 2 s, and the load average), and every probe records the load average at its start
and the CPU it actually had (cores, steal, other load). Optionally (`quiet_timeout_sec` > 0) it
waits before each run for other processes to use under `quiet_other_cores`, and a probe that
fails while others used more than `disturbed_other_cores` is run again, up to `attempts` times
(the disturbed runs are kept in `discarded`). Every run obeys the `Budget` (priority, CPUs,
device write limit).

`plan_next_rate` and `assess_probe` work on recorded data; only `measure_smax` runs db_bench.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics as st
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelyard.perfmodels import DbBenchConfig
from modelyard.targets.dbbench import parsers
from modelyard.targets.dbbench.budget import Budget
from modelyard.targets.dbbench.cpu import Availability, sample_availability
from modelyard.targets.dbbench.runner import DbBenchRun, run_db_bench
from modelyard.targets.procfs import read_proc_stat

__all__ = [
    "MeasurementResult",
    "ProbeResult",
    "assess_probe",
    "measure_smax",
    "next_probe_rate",
    "plan_next_rate",
    "probe_features",
]

STALL_LIMIT = 0.01
CV_LIMIT = 0.05
REACH_LIMIT = 0.95


@dataclass
class ProbeResult:
    """One db_bench run judged against the sustainability criteria."""

    target_ops_per_sec: float  # 0 for the closed run
    achieved_ops_per_sec: float
    second_half_ops_per_sec: float
    cv_second_half: float
    stall_fraction: float
    l0_increase_files: float
    l0_max_files: int
    pending_increase_bytes: float
    pending_mean_bytes: float
    sustainable: bool
    reasons: list[str]
    seconds: float
    operations: float
    cpu: dict[str, Any]
    features: dict[str, float] = field(default_factory=dict)
    loadavg: tuple[float, float, float] | None = None
    started_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _slope_increase(points: list[tuple[float, float]], span: float) -> float:
    """Least-squares slope of (t, y) times `span`: the fitted increase over the window."""
    if len(points) < 3:
        return 0.0
    ts = [p[0] for p in points]
    ys = [p[1] for p in points]
    mt, my = st.fmean(ts), st.fmean(ys)
    var = sum((t - mt) ** 2 for t in ts)
    if var <= 0:
        return 0.0
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var
    return slope * span


def _log_start_micros(log: str) -> float | None:
    for line in log.splitlines()[:5]:
        try:
            stamp = dt.datetime.strptime(line[:26], "%Y/%m/%d-%H:%M:%S.%f")
        except ValueError:
            continue
        return stamp.timestamp() * 1e6  # RocksDB writes local time
    return None


def l0_timeline(events: list[dict[str, Any]], start_micros: float) -> list[tuple[float, int]]:
    """(seconds since start, L0 files) after every flush or compaction."""
    out: list[tuple[float, int]] = []
    for event in events:
        state = event.get("lsm_state")
        if isinstance(state, list) and state and "time_micros" in event:
            out.append(((float(event["time_micros"]) - start_micros) / 1e6, int(state[0])))
    return out


def _step_samples(
    timeline: list[tuple[float, int]], start: float, end: float, step: float = 0.5
) -> list[tuple[float, float]]:
    samples: list[tuple[float, float]] = []
    value = 0
    index = 0
    t = start
    while t <= end:
        while index < len(timeline) and timeline[index][0] <= t:
            value = timeline[index][1]
            index += 1
        samples.append((t, float(value)))
        t += step
    return samples


def probe_features(run: DbBenchRun) -> dict[str, float]:
    """Quantities the models and the calibration use, measured on one run."""
    tickers = run.statistics.tickers
    ops = run.operations
    ingest = float(tickers.get("rocksdb.bytes.written", 0))
    flush = float(tickers.get("rocksdb.flush.write.bytes", 0))
    comp_read = float(tickers.get("rocksdb.compact.read.bytes", 0))
    comp_write = float(tickers.get("rocksdb.compact.write.bytes", 0))
    comp_cpu = 0.0
    comp_records = 0.0
    for event in run.events:
        if event.get("event") == "compaction_finished":
            comp_cpu += float(event.get("compaction_time_cpu_micros", 0)) / 1e6
            comp_records += float(event.get("num_input_records", 0)) + float(
                event.get("num_output_records", 0)
            )
    threads = run.cpu.thread_cpu_sec
    out = {
        "operations": ops,
        "ingest_bytes": ingest,
        "flush_bytes": flush,
        "compaction_read_bytes": comp_read,
        "compaction_write_bytes": comp_write,
        "compaction_cpu_sec": comp_cpu,
        "compaction_records": comp_records,
        "write_amp": (flush + comp_write) / ingest if ingest else 0.0,
        "flush_thread_cpu_sec": threads.get("rocksdb:high", 0.0),
        "compaction_thread_cpu_sec": threads.get("rocksdb:low", 0.0),
        "foreground_cpu_sec": threads.get("db_bench", 0.0),
        "process_cpu_sec": run.cpu_sec_total,
        "seconds": run.summary["seconds"] if run.summary else run.wall_sec,
        "available_cores": run.cpu.available_cores,
        "steal_fraction": run.cpu.steal_fraction,
        "other_cores": run.cpu.other_cores,
    }
    if ops:
        out["foreground_cpu_us_per_op"] = out["foreground_cpu_sec"] / ops * 1e6
        out["total_cpu_us_per_op"] = sum(threads.values()) / ops * 1e6 if threads else 0.0
    return out


def assess_probe(run: DbBenchRun, target_ops_per_sec: float) -> ProbeResult:
    """Judge one run against the sustainability criteria (see the module docstring)."""
    config = run.config
    reasons: list[str] = []
    seconds = run.summary["seconds"] if run.summary else run.wall_sec
    rates = parsers.report_rates(run.report)
    # drop a last partial interval db_bench may write after the benchmark ended
    rates = [r for r in rates if r[0] <= seconds + 0.5]
    half = seconds / 2.0
    second = [rate for t, rate in rates if t > half + 1e-9]
    mean2 = st.fmean(second) if second else run.ops_per_sec
    cv = (st.pstdev(second) / mean2) if len(second) >= 2 and mean2 > 0 else 0.0
    stall_micros = float(run.statistics.tickers.get("rocksdb.stall.micros", 0))
    stall_fraction = stall_micros / max(seconds * 1e6, 1.0)

    start = _log_start_micros(run.log)
    timeline = l0_timeline(run.events, start) if start is not None else []
    l0_points = _step_samples(timeline, half, seconds)
    l0_increase = _slope_increase(l0_points, seconds - half)
    l0_max = max((v for _, v in timeline), default=0)

    pending_points: list[tuple[float, float]] = []
    for table in run.compaction_stats:
        if table.uptime_sec is None or table.uptime_sec <= half:
            continue
        pending_points.append(
            (
                table.uptime_sec,
                parsers.estimate_pending_compaction_bytes(
                    table,
                    level0_trigger=config.level0_file_num_compaction_trigger,
                    base_bytes=config.max_bytes_for_level_base,
                    multiplier=config.max_bytes_for_level_multiplier,
                    include_level0=False,
                ),
            )
        )
    pending_mean = st.fmean([p[1] for p in pending_points]) if pending_points else 0.0
    pending_increase = _slope_increase(pending_points, seconds - half)

    if run.returncode != 0 or run.timed_out:
        reasons.append(f"db_bench exited with {run.returncode} (timed out: {run.timed_out})")
    if stall_fraction >= STALL_LIMIT:
        reasons.append(f"stalls {stall_fraction:.1%} of the time (limit {STALL_LIMIT:.0%})")
    if cv >= CV_LIMIT:
        reasons.append(f"second-half throughput CV {cv:.1%} (limit {CV_LIMIT:.0%})")
    if target_ops_per_sec > 0 and mean2 < REACH_LIMIT * target_ops_per_sec:
        reasons.append(f"second half reached {mean2 / target_ops_per_sec:.1%} of the target rate")
    if l0_increase > config.level0_file_num_compaction_trigger:
        reasons.append(f"L0 grew by {l0_increase:.1f} files over the second half")
    if l0_max >= config.level0_slowdown_writes_trigger:
        reasons.append(f"L0 reached {l0_max} files (slowdown trigger)")
    batch = 2.0 * config.level0_file_num_compaction_trigger * config.flush_file_bytes
    if pending_increase > max(0.5 * pending_mean, batch):
        reasons.append(f"pending compaction grew by {pending_increase / 2**20:.0f} MiB")
    return ProbeResult(
        target_ops_per_sec=target_ops_per_sec,
        achieved_ops_per_sec=run.ops_per_sec,
        second_half_ops_per_sec=mean2,
        cv_second_half=cv,
        stall_fraction=stall_fraction,
        l0_increase_files=l0_increase,
        l0_max_files=l0_max,
        pending_increase_bytes=pending_increase,
        pending_mean_bytes=pending_mean,
        sustainable=not reasons,
        reasons=reasons,
        seconds=seconds,
        operations=run.operations,
        cpu=run.cpu.to_dict(),
        features=probe_features(run),
    )


def plan_next_rate(
    closed_max: float,
    probes: list[tuple[float, bool]],
    *,
    max_probes: int = 6,
    tolerance: float = 0.03,
    first_fraction: float = 0.8,
) -> float | None:
    """The next rate to probe given (rate, sustainable) results, or None when done.

    The bracket is [highest sustainable, lowest unsustainable] (the closed maximum is the
    initial upper end); without a sustainable rate yet, the search steps down by 0.7x.
    """
    if len(probes) >= max_probes:
        return None
    if not probes:
        return first_fraction * closed_max
    good = [r for r, ok in probes if ok]
    bad = [r for r, ok in probes if not ok]
    hi = min(bad) if bad else closed_max
    if not good:
        return 0.7 * hi
    lo = max(good)
    if lo >= hi or (hi - lo) / hi < tolerance:
        return None
    return (lo + hi) / 2.0


EXTRA_STEPS_DOWN = 2


def next_probe_rate(
    closed_max: float,
    history: list[tuple[float, bool]],
    *,
    closed_sustainable: bool = False,
    max_probes: int = 5,
    tolerance: float = 0.03,
    first_fraction: float = 0.8,
    extra_steps: int = EXTRA_STEPS_DOWN,
) -> float | None:
    """`plan_next_rate` as the measurement uses it: while nothing is sustainable it may take
    `extra_steps` more probes down rather than end without an answer."""
    extra = 0 if any(ok for _, ok in history) else extra_steps
    return plan_next_rate(
        closed_max,
        history,
        max_probes=max_probes + extra + (1 if closed_sustainable else 0),
        tolerance=tolerance,
        first_fraction=first_fraction,
    )


def busy_cores(window_sec: float = 2.0) -> float:
    """Cores busy (all processes, steal excluded) over a short window."""
    cores, a = read_proc_stat()
    time.sleep(window_sec)
    _, b = read_proc_stat()
    delta = {k: b[k] - a.get(k, 0) for k in b}
    total = sum(delta.values())
    if total <= 0:
        return 0.0
    idle = delta.get("idle", 0) + delta.get("iowait", 0) + delta.get("steal", 0)
    return (total - idle) / total * cores


def wait_for_quiet(max_other_cores: float, timeout_sec: float) -> float:
    """Wait until other processes use under `max_other_cores` (or the timeout); return it."""
    deadline = time.monotonic() + timeout_sec
    while True:
        load = busy_cores()
        if load <= max_other_cores or time.monotonic() >= deadline:
            return load


@dataclass
class MeasurementResult:
    config: dict[str, Any]
    db_bench_args: str
    closed: ProbeResult
    probes: list[ProbeResult]
    smax_ops_per_sec: float | None
    bracket: tuple[float, float]
    measured_at: str
    wall_sec: float
    discarded: list[ProbeResult] = field(default_factory=list)
    availability_before: dict[str, Any] | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def sustainable_probe(self) -> ProbeResult | None:
        best = [p for p in self.probes if p.sustainable]
        return max(best, key=lambda p: p.target_ops_per_sec) if best else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        best = self.sustainable_probe
        data["cpu_available_cores_at_smax"] = best.cpu["available_cores"] if best else None
        return data


def measure_smax(
    config: DbBenchConfig,
    *,
    max_probes: int = 5,
    tolerance: float = 0.03,
    first_fraction: float = 0.8,
    workdir: Path | None = None,
    on_probe: Callable[[ProbeResult], None] | None = None,
    quiet_other_cores: float = 0.25,
    quiet_timeout_sec: float = 0.0,
    disturbed_other_cores: float = 0.3,
    attempts: int = 1,
    nice: int = 0,
    budget: Budget | None = None,
    availability: Availability | None = None,
) -> MeasurementResult:
    """Closed run, then bisection on `--benchmark_write_rate_limit` (bytes/s = ops/s x entry).

    `availability` is the CPU sample taken before the measurement (taken here when not given).
    """
    budget = budget or Budget(nice=nice)
    started = dt.datetime.now(dt.UTC)
    base = config.with_updates(benchmark_write_rate_limit=0)
    discarded: list[ProbeResult] = []
    cgroups = budget.cgroups(workdir or Path(tempfile.gettempdir()))
    if availability is None:
        availability = sample_availability(nice=budget.nice, cpus=budget.cpus)

    def probe(cfg: DbBenchConfig, target: float) -> ProbeResult:
        result: ProbeResult | None = None
        for attempt in range(attempts):
            if quiet_timeout_sec > 0:
                wait_for_quiet(quiet_other_cores, quiet_timeout_sec)
            load = os.getloadavg()
            at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            run = run_db_bench(
                cfg, workdir=workdir, nice=budget.nice, cpus=budget.cpus, cgroups=cgroups
            )
            result = assess_probe(run, target)
            result.loadavg = (load[0], load[1], load[2])
            result.started_at = at
            disturbed = result.cpu["other_cores"] > disturbed_other_cores
            if disturbed and not result.sustainable and attempt < attempts - 1:
                result.reasons.append("disturbed: other processes' load; run again")
                discarded.append(result)
                if on_probe is not None:
                    on_probe(result)
                continue
            break
        assert result is not None
        if on_probe is not None:
            on_probe(result)
        return result

    closed = probe(base, 0.0)
    closed_max = closed.achieved_ops_per_sec
    probes: list[ProbeResult] = []
    history: list[tuple[float, bool]] = []
    if closed.sustainable:
        history.append((closed_max, True))  # writer-bound: the closed run is sustainable
    while True:
        rate = next_probe_rate(
            closed_max,
            history,
            closed_sustainable=closed.sustainable,
            max_probes=max_probes,
            tolerance=tolerance,
            first_fraction=first_fraction,
        )
        if rate is None:
            break
        limit = max(1, round(rate * config.entry_bytes))
        result = probe(
            base.with_updates(benchmark_write_rate_limit=limit), limit / config.entry_bytes
        )
        probes.append(result)
        history.append((result.target_ops_per_sec, result.sustainable))
    good = [r for r, ok in history if ok]
    bad = [r for r, ok in history if not ok]
    smax = max(good) if good else None
    bracket = (smax or 0.0, min(bad) if bad else closed_max)
    return MeasurementResult(
        config=config.model_dump(),
        db_bench_args=" ".join(config.to_args()),
        closed=closed,
        probes=probes,
        smax_ops_per_sec=smax,
        bracket=bracket,
        measured_at=started.isoformat(timespec="seconds"),
        wall_sec=(dt.datetime.now(dt.UTC) - started).total_seconds(),
        discarded=discarded,
        availability_before=availability.to_dict(),
        budget=budget.to_dict(),
        plan={
            "max_probes": max_probes,
            "tolerance": tolerance,
            "first_fraction": first_fraction,
            "extra_steps": EXTRA_STEPS_DOWN,
        },
    )


Predict = Callable[[str, DbBenchConfig, Availability], dict[str, Any]]


def measure_matrix(
    configurations: list[tuple[str, DbBenchConfig]],
    out_dir: Path,
    *,
    remeasure: bool = False,
    max_probes: int = 5,
    tolerance: float = 0.03,
    on_probe: Callable[[str, ProbeResult], None] | None = None,
    nice: int = 0,
    budget: Budget | None = None,
    predict: Predict | None = None,
    workdir: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure every named configuration, writing `<out_dir>/<name>.json` as each finishes.

    An existing file is reused unless `remeasure`: a validation can be re-predicted against the
    same ground truth without re-running db_bench. With `predict`, each configuration is
    predicted from the CPU availability sampled just before its measurement, and the prediction
    is written to `<out_dir>/<name>.prediction.json` before the first db_bench run starts
    (it is copied into the measurement's JSON under "prediction").
    """
    budget = budget or Budget(nice=nice)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for name, config in configurations:
        path = out_dir / f"{name}.json"
        if path.exists() and not remeasure:
            results[name] = json.loads(path.read_text())
            continue

        def report(probe: ProbeResult, name: str = name) -> None:
            if on_probe is not None:
                on_probe(name, probe)

        availability = sample_availability(nice=budget.nice, cpus=budget.cpus)
        prediction: dict[str, Any] | None = None
        if predict is not None:
            prediction = {
                "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "availability_before": availability.to_dict(),
                **predict(name, config, availability),
            }
            (out_dir / f"{name}.prediction.json").write_text(json.dumps(prediction, indent=1))
        result = measure_smax(
            config,
            max_probes=max_probes,
            tolerance=tolerance,
            on_probe=report,
            budget=budget,
            availability=availability,
            workdir=workdir,
        )
        data = result.to_dict()
        data["nice"] = budget.nice
        data["name"] = name
        if prediction is not None:
            data["prediction"] = prediction
        path.write_text(json.dumps(data, indent=1))
        results[name] = data
    return results

"""Drift scenarios on a real RocksDB: a frozen and an auto-tuned deployment of the same version.

Each scenario is one run of the live experiment (``modelyard live experiment``): an embedded
RocksDB target runs open-loop at its maximum (every window saturated, so every window measures
S_max); a generic prior is calibrated live on the first workload and saved as a version; a
frozen and an auto-tuned deployment of that version then follow the same target through a
shift, and are scored on the same windows:

- ``value``: value size 100 -> 1,000 B;
- ``threads``: writer threads 1 -> 4;
- ``neighbour``: a CPU-bound process (``python -c 'while True: pass'``) starts at the shift;
- ``zipfian``: keys uniform -> Zipfian (theta 0.99);
- ``gets``: put-only -> 50 % point reads.

Per scenario (median over ``--runs``): median |error| after the shift for both; seconds from
the shift until the tuned deployment's error (median of its last 5 windows) is at most half
the frozen one's; the share of windows after the shift whose measured S_max fell inside the
tuned deployment's p10-p90; and how often the tuned deployment was worse than the frozen one
by more than 10 % (share of windows, and runs whose median was).

    .venv/bin/python bench/live_drift.py                 # every scenario, 1 run, ~7 minutes
    .venv/bin/python bench/live_drift.py --runs 3 --scenario value --scenario gets

Targets (from the issue this answers): tuned at most half the frozen within 60 s of the shift,
never worse by more than 10 % in any run, 80 % intervals covering 70-90 % of saturated windows.
Figures depend on the machine's load: the report prints ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.config import Settings
from modelyard.deployments.experiment import run_experiment
from modelyard.kit import migrate
from modelyard.kit.db import Database
from modelyard.monitoring.store import MetricStore
from modelyard.storage import open_store

SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "value": ({"value_size": 100}, {"value_size": 1000}),
    "threads": ({"threads": 1}, {"threads": 4}),
    "neighbour": ({}, {}),
    "zipfian": ({"key_distribution": "uniform"}, {"key_distribution": "zipfian"}),
    "gets": (
        {"put_fraction": 1.0, "get_fraction": 0.0},
        {"put_fraction": 0.5, "get_fraction": 0.5},
    ),
}
SMOOTH = 5


@dataclass
class Run:
    frozen: float | None
    tuned: float | None
    seconds_to_half: float | None
    coverage: float | None
    worse_share: float | None
    windows: int
    tuning_records: int
    detail: dict[str, Any] = field(default_factory=dict)


class Neighbour:
    """A CPU-bound process started at the shift and stopped (by PID) after the run."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.process is None:
            self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def score(timeline: list[dict[str, Any]], after_seconds: float) -> Run:
    """The scenario's figures from the experiment's timeline (every interval of both)."""
    shift = next((r["ts_ms"] for r in timeline if r.get("phase_index") == 1), None)
    rows: dict[str, dict[int, dict[str, Any]]] = {"frozen": {}, "tuned": {}}
    for row in timeline:
        if row["deployment"] in rows and row["saturated"] and row["error_pct"] is not None:
            rows[row["deployment"]][row["ts_ms"]] = row
    if shift is None:
        return Run(None, None, None, None, None, 0, 0)
    common = sorted(
        t
        for t in set(rows["frozen"]) & set(rows["tuned"])
        if shift <= t < shift + after_seconds * 1000
    )
    frozen = [abs(rows["frozen"][t]["error_pct"]) for t in common]
    tuned = [abs(rows["tuned"][t]["error_pct"]) for t in common]
    half = None
    for i in range(len(common)):
        lo = max(0, i - SMOOTH + 1)
        if statistics.median(tuned[lo : i + 1]) <= 0.5 * statistics.median(frozen[lo : i + 1]):
            half = (common[i] - shift) / 1000
            break
    inside = [
        rows["tuned"][t]["predicted_p10"]
        <= rows["tuned"][t]["actual"]
        <= rows["tuned"][t]["predicted_p90"]
        for t in common
        if rows["tuned"][t].get("predicted_p10") is not None
    ]
    worse = [t > 1.1 * f for t, f in zip(tuned, frozen, strict=True)]
    return Run(
        frozen=statistics.median(frozen) if frozen else None,
        tuned=statistics.median(tuned) if tuned else None,
        seconds_to_half=half,
        coverage=sum(inside) / len(inside) if inside else None,
        worse_share=sum(worse) / len(worse) if worse else None,
        windows=len(common),
        tuning_records=0,
    )


def one_run(
    home: Path, scenario: str, *, calibrate: float, before: float, after: float, window: int
) -> Run:
    url = f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(url)
    settings = Settings(home=home, database_url=url)
    db = Database(url)
    neighbour = Neighbour()
    before_phase, after_phase = SCENARIOS[scenario]
    on_shift: Callable[[], None] | None = neighbour.start if scenario == "neighbour" else None
    try:
        result = run_experiment(
            db,
            MetricStore(db.engine),
            home,
            blobs=open_store(settings),
            value_before=int(before_phase.get("value_size", 100)),
            value_after=int(after_phase.get("value_size", before_phase.get("value_size", 100))),
            calibrate_seconds=calibrate,
            before_seconds=before,
            after_seconds=after,
            window_intervals=window,
            phase_before={k: v for k, v in before_phase.items() if k != "value_size"}
            | {"name": "before"},
            phase_after={k: v for k, v in after_phase.items() if k != "value_size"}
            | {"name": "after"},
            on_shift=on_shift,
            progress=lambda message: print(f"    {message}", flush=True),
        )
    finally:
        neighbour.stop()
        db.dispose()
    run = score(result.timeline, after)
    run.tuning_records = result.tuning_records
    run.detail = result.to_dict()
    return run


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def fmt(value: float | None, unit: str = "%", scale: float = 1.0) -> str:
    return "-" if value is None else f"{value * scale:.0f}{unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per scenario (issue: 3)")
    parser.add_argument(
        "--seconds", type=float, default=45.0, help="scored seconds after each shift"
    )
    parser.add_argument("--calibrate", type=float, default=15.0)
    parser.add_argument("--before", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=5, help="intervals per scored window")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    started = time.monotonic()
    load_before = uptime()
    print(f"# live_drift: {args.runs} run(s) x {len(scenarios)} scenario(s); {load_before}")
    results: dict[str, list[Run]] = {}
    for scenario in scenarios:
        results[scenario] = []
        for number in range(args.runs):
            print(f"  {scenario} run {number + 1}/{args.runs}", flush=True)
            with tempfile.TemporaryDirectory(prefix="modelyard-live-drift-") as home:
                results[scenario].append(
                    one_run(
                        Path(home),
                        scenario,
                        calibrate=args.calibrate,
                        before=args.before,
                        after=args.seconds,
                        window=args.window,
                    )
                )
    print()
    print(
        "| scenario | runs | frozen median abs error | tuned median abs error | tuned / frozen "
        "| s to tuned <= half frozen | p10-p90 coverage (tuned) | windows tuned worse >10% "
        "| runs tuned worse >10% |"
    )
    print("|---|---|---|---|---|---|---|---|---|")

    def median(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    for scenario, runs in results.items():
        frozen = median([r.frozen for r in runs])
        tuned = median([r.tuned for r in runs])
        halves = [r.seconds_to_half for r in runs]
        half = median(halves)
        never = sum(1 for h in halves if h is None)
        worse_runs = sum(
            1
            for r in runs
            if r.frozen is not None and r.tuned is not None and r.tuned > 1.1 * r.frozen
        )
        ratio = tuned / frozen if tuned is not None and frozen else None
        print(
            f"| {scenario} | {len(runs)} | {fmt(frozen)} | {fmt(tuned)} | {fmt(ratio, '', 1.0) if ratio is None else f'{ratio:.2f}'} "
            f"| {fmt(half, ' s')}{f' ({never} never)' if never else ''} | {fmt(median([r.coverage for r in runs]), '%', 100)} "
            f"| {fmt(median([r.worse_share for r in runs]), '%', 100)} | {worse_runs}/{len(runs)} |"
        )
    print()
    print(f"# {time.monotonic() - started:.0f} s in all; load after: {uptime()}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    s: [{k: v for k, v in r.__dict__.items() if k != "detail"} for r in runs]
                    for s, runs in results.items()
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

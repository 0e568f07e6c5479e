"""The bisection and the sustainability judgement on recorded probes and a captured run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import modelyard.cli
from modelyard.perfmodels import parse_db_bench_args
from modelyard.targets.dbbench.cpu import CpuSummary
from modelyard.targets.dbbench.measure import assess_probe, next_probe_rate, plan_next_rate
from modelyard.targets.dbbench.runner import DbBenchRun

DATA = Path(__file__).parents[1] / "data" / "dbbench"


def test_first_probe_is_a_fraction_of_the_closed_maximum() -> None:
    assert plan_next_rate(100_000.0, []) == pytest.approx(80_000.0)


def test_bisection_between_sustainable_and_not() -> None:
    # recorded on this machine: 16 B keys, 400 B values, 8 MiB memtables, no compression, 30 s
    closed = 105_700.0
    history = [(84_560.0, True)]
    assert plan_next_rate(closed, history) == pytest.approx((84_560 + 105_700) / 2)
    history.append((95_130.0, False))
    assert plan_next_rate(closed, history) == pytest.approx((84_560 + 95_130) / 2)
    history.append((89_845.0, False))  # reached only 96.5% of its rate
    nxt = plan_next_rate(closed, history)
    assert nxt == pytest.approx((84_560 + 89_845) / 2)
    history.append((87_200.0, True))
    # bracket 87.2k - 89.8k is within 3%: done
    assert plan_next_rate(closed, history) is None


def test_bisection_steps_down_until_something_is_sustainable() -> None:
    history = [(80_000.0, False)]
    assert plan_next_rate(100_000.0, history) == pytest.approx(56_000.0)
    history.append((56_000.0, False))
    assert plan_next_rate(100_000.0, history) == pytest.approx(39_200.0)


def test_bisection_stops_after_max_probes() -> None:
    history = [(80_000.0, True), (90_000.0, False), (85_000.0, True)]
    assert plan_next_rate(100_000.0, history, max_probes=3) is None


def _captured_run() -> DbBenchRun:
    config = parse_db_bench_args(
        "--benchmarks=fillrandom --num=2000000 --duration=12 --value_size=400 "
        "--write_buffer_size=8388608 --compression_type=none --seed=1"
    )
    cpu = CpuSummary(
        cores=2,
        seconds=12.1,
        steal_fraction=0.0,
        idle_fraction=0.05,
        own_cores=1.7,
        other_cores=0.2,
        available_cores=1.8,
    )
    return DbBenchRun(
        config=config,
        argv=["db_bench"],
        returncode=0,
        wall_sec=12.1,
        stdout=(DATA / "fillrandom_stdout.txt").read_text(),
        stderr=(DATA / "fillrandom_stderr.txt").read_text(),
        report_csv=(DATA / "fillrandom_report.csv").read_text(),
        log=(DATA / "fillrandom_LOG.txt").read_text(),
        cpu=cpu,
    )


def test_closed_overloaded_run_is_not_sustainable() -> None:
    probe = assess_probe(_captured_run(), 0.0)
    assert not probe.sustainable
    # 1.2 s of stalls in 12 s, throughput falling from 150k to 51k per second, L0 at 20
    assert probe.stall_fraction == pytest.approx(1197855 / 12.013e6)
    assert probe.cv_second_half > 0.05
    assert probe.l0_max_files >= 20
    assert any("stalls" in r for r in probe.reasons)
    assert probe.features["write_amp"] == pytest.approx((605954558 + 2040160412) / 618623568)


def test_rate_target_not_reached_is_not_sustainable() -> None:
    probe = assess_probe(_captured_run(), 200_000.0)
    assert any("of the target rate" in r for r in probe.reasons)


RECORDED = Path(modelyard.cli.__file__).parent / "demo_data" / "smax" / "measurements"
MEASUREMENTS = sorted(RECORDED.glob("*.json"))


@pytest.mark.parametrize("path", MEASUREMENTS, ids=[p.stem for p in MEASUREMENTS])
def test_recorded_bisections_replay(path: Path) -> None:
    """Every probe of a recorded validation measurement is the one plan_next_rate asks for."""
    import json

    measured = json.loads(path.read_text())
    closed = measured["closed"]["achieved_ops_per_sec"]
    config = parse_db_bench_args(measured["db_bench_args"])
    # the plan is recorded with newer measurements; older ones used one of these
    plans = (
        [measured["plan"]]
        if "plan" in measured
        else [
            {"max_probes": n, "tolerance": t, "extra_steps": e}
            for n, t in ((5, 0.03), (4, 0.04), (3, 0.05))
            for e in (0, 2)
        ]
    )

    def replays(plan: dict[str, Any]) -> bool:
        history: list[tuple[float, bool]] = []
        for probe in measured["probes"]:
            planned = next_probe_rate(
                closed,
                history,
                max_probes=plan["max_probes"],
                tolerance=plan["tolerance"],
                extra_steps=plan["extra_steps"],
            )
            # the rate limit is whole bytes per second
            if (
                planned is None
                or abs(probe["target_ops_per_sec"] - planned) > 1.0 / config.entry_bytes
            ):
                return False
            history.append((probe["target_ops_per_sec"], probe["sustainable"]))
        last = next_probe_rate(
            closed,
            history,
            max_probes=plan["max_probes"],
            tolerance=plan["tolerance"],
            extra_steps=plan["extra_steps"],
        )
        return last is None

    assert any(replays(plan) for plan in plans)
    history = [(p["target_ops_per_sec"], p["sustainable"]) for p in measured["probes"]]
    good = [r for r, ok in history if ok]
    assert measured["smax_ops_per_sec"] == (max(good) if good else None)
    for probe in measured["probes"]:
        assert probe["sustainable"] == (not probe["reasons"])

"""One short real db_bench run, so the parsers stay honest against the installed version."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.perfmodels import parse_db_bench_args
from modelyard.targets.dbbench.measure import assess_probe
from modelyard.targets.dbbench.runner import DB_BENCH, run_db_bench

pytestmark = [
    pytest.mark.dbbench,
    pytest.mark.skipif(
        not Path(DB_BENCH).exists(),
        reason="db_bench not installed (sudo apt-get install -y rocksdb-tools)",
    ),
]


def test_short_fillrandom_is_parsed(tmp_path: Path) -> None:
    config = parse_db_bench_args(
        "--benchmarks=fillrandom --num=200000 --duration=3 --value_size=200 "
        "--write_buffer_size=1048576 --compression_type=none --seed=3 "
        f"--benchmark_write_rate_limit={216 * 20000}"
    )
    run = run_db_bench(config, workdir=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "RocksDB:    version 7." in run.stderr
    summary = run.summary
    assert summary is not None
    ops = summary["operations"]
    # the rate limiter counts key+value bytes: at most 20k puts/s (less if the CPU is busy)
    assert 0 < summary["ops_per_sec"] <= 20_000 * 1.03
    tickers = run.statistics.tickers
    assert tickers["rocksdb.number.keys.written"] == ops
    assert tickers["rocksdb.bytes.written"] == ops * (16 + 200 + 16)
    # report rows are counts per 1 s interval: none above the rate limit, and together the
    # operations done before the last tick (the final partial second is not reported)
    assert run.report and all(0 < r.ops <= 20_000 * 1.05 for r in run.report)
    reported = sum(r.ops for r in run.report)
    assert ops - 20_000 * 1.05 <= reported <= ops
    assert run.compaction_stats, "per-interval compaction stats on stderr"
    kinds = {e["event"] for e in run.events}
    assert {"flush_started", "flush_finished", "table_file_creation"} <= kinds
    assert run.db_stats.stall_format == "7.x"
    assert run.cpu.cores >= 1 and run.cpu_sec_total > 0
    assert "rocksdb:high" in run.cpu.thread_cpu_sec
    probe = assess_probe(run, 20_000.0)
    assert probe.features["operations"] == ops
    assert probe.stall_fraction < 0.01


def test_a_short_calibration_fits_a_profile_that_predicts(tmp_path: Path) -> None:
    """Three 2-second runs are enough to exercise the whole calibration: costs measured on the
    threads that pay them, the CPU sample before each run, the raw samples kept, and a profile
    that refits to itself and predicts a closed-loop maximum above S_max."""
    from modelyard.perfmodels import predict_resource
    from modelyard.targets.dbbench.budget import Budget
    from modelyard.targets.dbbench.calibrate import calibrate, profile_from_samples

    common = "--benchmarks=fillrandom --duration=2 --num=1000000 --seed=3"
    runs = [
        f"{common} --value_size=128 --write_buffer_size=1048576 --compression_type=none",
        f"{common} --value_size=1000 --write_buffer_size=2097152 --compression_type=none",
        f"{common} --value_size=500 --write_buffer_size=1048576 --compression_type=lz4 --threads=2",
    ]
    profile = calibrate(
        name="short", run_args=runs, repeats=1, with_fio=False, budget=Budget(), workdir=tmp_path
    )
    samples = profile.calibration["samples"]
    assert len(samples["writer"]) == 3 and samples["flush"] and samples["compactions"]
    assert set(profile.flush_costs) == {"none", "lz4"}
    assert 0 < profile.compressed_fraction["lz4"] < 1
    assert profile.availability is not None and profile.availability.samples == 3
    assert profile.cpu_speed_ns_per_iteration and profile.cpu_speed_ns_per_iteration > 0
    assert profile.calibration["missing_compressions"] == ["snappy", "zstd"]
    again = profile_from_samples(samples, name="short", envelope=None)
    assert again.flush_costs == profile.flush_costs
    prediction = predict_resource(
        parse_db_bench_args("--value_size=400 --duration=10 --compression_type=lz4"), profile
    )
    assert prediction.closed_loop_ops_per_sec is not None
    assert 0 < prediction.smax_ops_per_sec <= prediction.closed_loop_ops_per_sec


def test_a_one_cpu_budget_keeps_db_bench_and_the_sample_on_that_cpu(tmp_path: Path) -> None:
    from modelyard.targets.dbbench.budget import Budget
    from modelyard.targets.dbbench.cpu import sample_availability

    budget = Budget(cpus="0")
    sample = sample_availability(seconds=0.5, cpus=budget.cpus)
    assert sample.spinners == 1 and 0 < sample.cores <= 1.05
    config = parse_db_bench_args(
        "--benchmarks=fillrandom --num=100000 --duration=1 --value_size=100 --compression_type=none"
    )
    run = run_db_bench(config, workdir=tmp_path, cpus=budget.cpus)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.argv[:3] == ["taskset", "-c", "0"]
    # every thread of db_bench ran on CPU 0: at most one core's worth of CPU per second
    assert run.cpu.own_cores <= 1.05

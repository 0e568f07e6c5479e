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
    assert 5_000 < summary["ops_per_sec"] <= 20_000 * 1.03
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

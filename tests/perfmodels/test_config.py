"""The db_bench configuration: parsing, RocksDB 7.8 defaults and derived quantities."""

from __future__ import annotations

import math

import pytest

from modelyard.perfmodels import DbBenchConfig, parse_db_bench_args


def test_defaults_are_db_bench_7_8() -> None:
    c = DbBenchConfig()
    assert (c.key_size, c.value_size, c.num, c.threads) == (16, 100, 1_000_000, 1)
    assert c.write_buffer_size == 64 * 2**20
    assert c.max_write_buffer_number == 2
    assert (
        c.level0_file_num_compaction_trigger,
        c.level0_slowdown_writes_trigger,
        c.level0_stop_writes_trigger,
    ) == (4, 20, 36)
    assert c.max_bytes_for_level_base == 256 * 2**20
    assert c.max_bytes_for_level_multiplier == 10
    assert c.target_file_size_base == 64 * 2**20
    assert c.max_background_jobs == 2
    assert c.compression_type == "snappy"


def test_parse_forms_and_extras() -> None:
    c = parse_db_bench_args(
        "--benchmarks=fillrandom --value_size=400 --num 2000000 -duration=30 "
        "--compression_type=none --sync --bloom_bits=10 --max_bytes_for_level_multiplier=4"
    )
    assert c.value_size == 400
    assert c.num == 2_000_000
    assert c.duration == 30
    assert c.compressed is False
    assert c.sync is True
    assert c.max_bytes_for_level_multiplier == 4.0
    assert c.extra == {"bloom_bits": "10"}


def test_round_trip_through_args() -> None:
    c = parse_db_bench_args("--value_size=1000 --write_buffer_size=16777216 --threads=2 --sync")
    assert parse_db_bench_args(c.to_args()) == c


def test_background_thread_split() -> None:
    assert (DbBenchConfig().flush_threads, DbBenchConfig().compaction_threads) == (1, 1)
    c4 = DbBenchConfig(max_background_jobs=4)
    assert (c4.flush_threads, c4.compaction_threads) == (1, 3)
    c8 = DbBenchConfig(max_background_jobs=8)
    assert (c8.flush_threads, c8.compaction_threads) == (2, 6)
    legacy = DbBenchConfig(max_background_compactions=3, max_background_flushes=2)
    assert (legacy.flush_threads, legacy.compaction_threads) == (2, 3)


def test_bytes_per_operation() -> None:
    c = DbBenchConfig(value_size=400, compression_type="none")
    assert c.entry_bytes == 416
    assert c.wal_bytes_per_op == 432  # rocksdb.bytes.written / keys measured 432
    assert c.sst_bytes_per_entry == 424
    snappy = DbBenchConfig(value_size=400)
    assert snappy.sst_bytes_per_entry == 16 + 8 + 200
    assert DbBenchConfig(disable_wal=True).wal_bytes_per_op == 0


def test_rate_limit_is_bytes_of_key_and_value() -> None:
    c = DbBenchConfig(value_size=400, benchmark_write_rate_limit=416 * 50_000)
    assert c.rate_limit_ops == pytest.approx(50_000)


def test_data_volume_duration_or_num() -> None:
    timed = DbBenchConfig(num=1_000_000, duration=30)
    assert timed.operations_at(10_000) == 300_000
    assert timed.run_seconds_at(10_000) == 30
    counted = DbBenchConfig(num=1_000_000)
    assert counted.operations_at(10_000) == 1_000_000
    assert counted.run_seconds_at(10_000) == 100
    # uniform random keys: after num puts, 1 - 1/e of the keys exist
    assert counted.unique_keys(1_000_000) == pytest.approx(1_000_000 * (1 - math.exp(-1)))
    assert DbBenchConfig(benchmarks="fillseq").unique_keys(5e5) == 5e5

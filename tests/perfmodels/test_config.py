"""The db_bench configuration: parsing, RocksDB 7.8 defaults and derived quantities."""

from __future__ import annotations

import math

import pytest

from modelyard.perfmodels import (
    COMPRESSIONS,
    DbBenchArgsError,
    DbBenchConfig,
    SamplerSpace,
    parse_db_bench_args,
    sample_configurations,
)


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--value_sz=400", "--value_sz is not a db_bench flag (did you mean --value_size?)."),
        ("--write_bufer_size=8388608", "did you mean --write_buffer_size?"),
        ("--value_size=abc", "--value_size=abc is not valid: --value_size takes an integer."),
        ("--num=1e6", "--num takes an integer"),
        ("--max_bytes_for_level_multiplier=x", "takes a number"),
        ("--sync=maybe", "--sync takes true or false"),
        ("--threads=0", "--threads=0 is out of range: it must be at least 1."),
        ("--compression_type=brotli", "--compression_type=brotli is not a compression type"),
        ("--compression_type=zlib", "--compression_type=zlib is not modelled"),
        ("--benchmarks=readrandom", "S_max is predicted for one write benchmark"),
        ("value_size=400", "is not a db_bench flag: flags look like --name=value."),
        ("--duration", "--duration needs a value."),
    ],
)
def test_bad_arguments_are_refused_with_one_sentence(args: str, message: str) -> None:
    with pytest.raises(DbBenchArgsError) as caught:
        parse_db_bench_args(args)
    text = str(caught.value)
    assert message in text
    assert text.endswith(".") and text.count(". ") == 0  # one sentence, no traceback


def test_every_compression_rocksdb_offers_here_is_accepted() -> None:
    for kind in ("none", "snappy", "lz4", "zstd"):
        assert parse_db_bench_args(f"--compression_type={kind}").compression_type == kind
    assert parse_db_bench_args("--compression_type=NoCompression").compression_type == "none"


def test_gflags_spellings_of_booleans() -> None:
    assert parse_db_bench_args("--sync").sync is True
    assert parse_db_bench_args("--nosync").sync is False
    assert parse_db_bench_args("--sync=false").sync is False


def test_known_flags_that_no_model_describes_are_reported() -> None:
    c = parse_db_bench_args("--bloom_bits=10 --statistics=1 --db=/tmp/x --value_size=10")
    assert c.unmodelled_flags == ["bloom_bits"]  # reporting and paths change nothing modelled


def test_sampler_is_reproducible_and_covers_the_space() -> None:
    first = sample_configurations(40, seed=11)
    assert first == sample_configurations(40, seed=11)
    assert first != sample_configurations(40, seed=12)
    assert sample_configurations(5, seed=11) == first[:5]  # a prefix of the same draw
    space = SamplerSpace()
    configs = [parse_db_bench_args(c.db_bench_args) for c in first]
    assert len({c.name for c in first}) == 40
    assert {c.compression_type for c in configs} == set(COMPRESSIONS)
    for c in configs:
        assert space.value_size[0] <= c.value_size <= space.value_size[1]
        assert space.key_size[0] <= c.key_size <= space.key_size[1]
        assert space.write_buffer_size[0] <= c.write_buffer_size <= space.write_buffer_size[1]
        assert 4 <= c.max_bytes_for_level_multiplier <= 12
        assert 1 <= c.max_background_jobs <= 8 and 1 <= c.threads <= 4
        if c.duration:
            assert 20 <= c.duration <= 120
            assert c.num * c.entry_bytes <= space.max_key_space_bytes
        else:
            assert c.num >= 1
    assert any(c.duration == 0 for c in configs) and any(c.duration > 0 for c in configs)

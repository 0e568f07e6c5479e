"""Formulas on hand-computed cases, the simulation's bookkeeping and the FORMULA_KINDS contract."""

from __future__ import annotations

import math

import pytest

from modelyard.perfmodels import (
    FORMULA_KINDS,
    AdaptiveFactor,
    CpuCost,
    DbBenchConfig,
    DeviceEnvelope,
    MissingCompressionError,
    Profile,
    ResourceParameters,
    lsm_shape,
    parse_db_bench_args,
    predict,
    predict_resource,
    predict_v1,
    predict_v2_1,
    predict_v4,
    simulate,
    textbook_write_amp,
)
from modelyard.perfmodels._lsm import _fair_share
from modelyard.perfmodels._resource import SUSTAINED_CPU_FRACTION as SUSTAINED

ENVELOPE = DeviceEnvelope(
    seq_write_bytes_per_sec=1e9,
    seq_read_bytes_per_sec=2e9,
    mixed_read_bytes_per_sec=0.25e9,
    mixed_write_bytes_per_sec=0.25e9,
    rand_write_bytes_per_sec=0.1e9,
)
COST = CpuCost(cpu_sec_per_record=1e-6, cpu_sec_per_byte=1e-9)


def _profile(**changes: object) -> Profile:
    data: dict[str, object] = {
        "name": "test",
        "cores": 2,
        "cpu_available_cores": 2.0,
        "foreground_cpu_sec_per_op": 8e-6,
        "flush_costs": {"default": CpuCost(cpu_sec_per_record=0.5e-6, cpu_sec_per_byte=1e-9)},
        "compaction_costs": {"default": COST},
        "device": ENVELOPE,
        "compaction_bytes_per_cpu_sec": 200e6,
    }
    data.update(changes)
    return Profile.model_validate(data)


# a num-bounded run: its data volume does not depend on the rate
SMALL = DbBenchConfig(value_size=400, compression_type="none", num=100_000)
UNIQUE = 100_000 * (1 - math.exp(-1))


def test_lsm_shape_levels() -> None:
    c = DbBenchConfig()
    assert lsm_shape(c, 100 * 2**20).levels == 1
    assert lsm_shape(c, 300 * 2**20).levels == 2  # 256 MiB + 2.5 GiB
    assert lsm_shape(c, 3 * 2**30).levels == 3
    assert textbook_write_amp(c, 300 * 2**20) == pytest.approx(1 + 10 / 9 * 2)


def test_v1_is_bandwidth_over_bytes_written() -> None:
    # 63,212 keys x 424 B = 26.8 MB: one level, WA = 1 + 10/9 = 2.111
    wa = 1 + 10 / 9
    writes = 432 + wa * 424
    assert UNIQUE * 424 < 256 * 2**20
    assert predict_v1(SMALL, _profile()).smax_ops_per_sec == pytest.approx(1e9 / writes)


def test_v2_1_is_the_harmonic_mean_of_read_and_write_time() -> None:
    wa = 1 + 10 / 9
    reads, writes = (wa - 1) * 424, 432 + wa * 424
    expected = 1 / (reads / 2e9 + writes / 1e9)
    assert predict_v2_1(SMALL, _profile()).smax_ops_per_sec == pytest.approx(expected)


def test_v4_interpolates_the_envelope() -> None:
    wa = 1 + 10 / 9
    reads, writes = (wa - 1) * 424, 432 + wa * 424
    share = reads / (reads + writes)
    capacity = 1e9 + (0.5e9 - 1e9) * share / 0.5
    assert predict_v4(SMALL, _profile()).smax_ops_per_sec == pytest.approx(
        capacity / (reads + writes)
    )


def test_envelope_end_points() -> None:
    assert ENVELOPE.write_capacity(0.0) == 1e9
    assert ENVELOPE.write_capacity(0.5) == 0.5e9
    assert ENVELOPE.write_capacity(1.0) == 2e9


def test_fair_share_of_cores() -> None:
    assert _fair_share([0.3, 1.0, 1.0], 2.0) == pytest.approx([0.3, 0.85, 0.85])
    assert _fair_share([1.0, 1.0], 2.0) == [1.0, 1.0]
    assert _fair_share([1.0, 1.0, 1.0, 1.0], 1.0) == [0.25] * 4


def test_simulation_bookkeeping_without_compaction() -> None:
    # 20,000 puts of 416 B into 8 MiB memtables: 20000 * 451 B = 9.0 MB -> one flush, no L0->L1
    c = DbBenchConfig(
        value_size=400, compression_type="none", num=20_000, write_buffer_size=8 << 20
    )
    sim = simulate(
        c,
        10_000.0,
        foreground_cpu_sec_per_op=10e-6,
        flush_cost=CpuCost(cpu_sec_per_record=0.0, cpu_sec_per_byte=0.0),
        compaction_cost=COST,
        available_cores=2.0,
    )
    assert sim.seconds == pytest.approx(2.0)
    assert sim.ingest_bytes == pytest.approx(20_000 * 416, rel=1e-6)
    entries = (8 << 20) / 451
    assert sim.flush_bytes == pytest.approx(entries * 424, rel=1e-3)
    assert sim.compaction_cpu_sec == 0
    assert sim.foreground_cpu_sec == pytest.approx(20_000 * 10e-6)
    assert sim.sustainable


def test_simulation_writer_short_of_cpu() -> None:
    # the writer needs 100 us per put: at most 10k/s on a core, so 20k/s is not sustainable
    sim = simulate(
        SMALL,
        20_000.0,
        foreground_cpu_sec_per_op=100e-6,
        flush_cost=COST,
        compaction_cost=COST,
        available_cores=2.0,
    )
    assert not sim.sustainable
    assert sim.achieved_ops_per_sec == pytest.approx(10_000, rel=0.01)


def test_resource_model_writer_bound() -> None:
    prediction = predict_resource(SMALL, _profile(foreground_cpu_sec_per_op=100e-6))
    assert prediction.binding == "writer_threads"
    # the closed run has the whole core; a rate-limited one the share it can use smoothly
    assert prediction.closed_loop_ops_per_sec == pytest.approx(10_000, rel=0.01)
    assert prediction.smax_ops_per_sec == pytest.approx(10_000 * SUSTAINED, rel=0.01)
    full = predict_resource(
        SMALL,
        _profile(foreground_cpu_sec_per_op=100e-6),
        parameters=ResourceParameters.from_profile(
            _profile(foreground_cpu_sec_per_op=100e-6), "none"
        ).model_copy(update={"sustained_cpu_fraction": 1.0}),
    )
    assert full.smax_ops_per_sec == pytest.approx(10_000, rel=0.01)
    assert set(prediction.bounds) == {
        "writer_threads",
        "flush",
        "compaction_threads",
        "cpu_total",
        "device",
        "lsm_backlog",
        "closed_loop",
    }


def test_resource_model_compaction_cpu_bound_falls_with_cores() -> None:
    c = DbBenchConfig(
        value_size=400,
        compression_type="none",
        num=2_000_000,
        duration=10,
        write_buffer_size=4 << 20,
    )
    heavy = CpuCost(cpu_sec_per_record=3e-6, cpu_sec_per_byte=3e-9)
    profile = _profile(compaction_costs={"default": heavy})
    two = predict_resource(c, profile, available_cores=2.0)
    one = predict_resource(c, profile, available_cores=1.0)
    assert one.smax_ops_per_sec < two.smax_ops_per_sec
    assert two.binding in {"lsm_backlog", "compaction_threads", "cpu_total"}
    # a longer run holds more data and costs more compaction per put
    longer = predict_resource(c.with_updates(duration=30), profile, available_cores=2.0)
    assert longer.smax_ops_per_sec < two.smax_ops_per_sec


def test_adaptive_factor_rls_step() -> None:
    factor = AdaptiveFactor().update(100_000.0, 50_000.0)
    gain = 1.0 / (0.98 + 1.0)
    assert factor.k == pytest.approx(1.0 + gain * (0.5 - 1.0))
    for _ in range(50):
        factor = factor.update(100_000.0, 50_000.0)
    assert factor.k == pytest.approx(0.5, abs=0.01)


def test_formula_kinds_contract() -> None:
    assert set(FORMULA_KINDS) == {
        "smax_resource",
        "smax_v1",
        "smax_v2_1",
        "smax_v3",
        "smax_v4",
        "smax_v5",
    }
    parameters = {"profile": _profile().model_dump()}
    features = {"db_bench_args": "--value_size=400 --num=100000 --compression_type=none"}
    for kind, formula in FORMULA_KINDS.items():
        result = formula(parameters, features)
        assert result.smax_ops_per_sec > 0
        assert result.binding in result.bounds
        assert result.smax_ops_per_sec == min(result.bounds.values())
        assert result.model_dump()["smax_ops_per_sec"] == result.smax_ops_per_sec, kind


def test_formula_parameters_override_the_profile() -> None:
    parameters = {"profile": _profile().model_dump(), "foreground_cpu_sec_per_op": 100e-6}
    result = predict("smax_resource", parameters, {"config": SMALL.model_dump()})
    assert result.smax_ops_per_sec == pytest.approx(10_000 * SUSTAINED)
    v5 = predict(
        "smax_v5",
        {"profile": _profile().model_dump(), "adaptive_factor": {"k": 0.5}},
        {"config": SMALL.model_dump()},
    )
    v3 = predict("smax_v3", {"profile": _profile().model_dump()}, {"config": SMALL.model_dump()})
    assert v5.smax_ops_per_sec == pytest.approx(0.5 * v3.smax_ops_per_sec)
    with pytest.raises(KeyError):
        predict("smax_v9", parameters, {})


def test_concurrent_writers_cost_extra_cpu() -> None:
    profile = _profile(foreground_cpu_sec_per_op=100e-6, foreground_cpu_sec_per_op_concurrent=25e-6)
    one = predict_resource(SMALL, profile)
    two = predict_resource(SMALL.with_updates(threads=2), profile)
    assert one.bounds["writer_threads"] == pytest.approx(SUSTAINED / 100e-6)
    assert two.bounds["writer_threads"] == pytest.approx(2 * SUSTAINED / 125e-6)


HEAVY = CpuCost(cpu_sec_per_record=3e-6, cpu_sec_per_byte=3e-9)


@pytest.mark.parametrize(
    ("args", "cores"),
    [
        ("--value_size=400 --compression_type=none --num=2000000 --duration=8", 1.0),
        ("--value_size=100 --compression_type=none --num=1000000000 --duration=20", 2.0),
        ("--value_size=4000 --compression_type=none --num=300000", 1.5),
        ("--value_size=60 --threads=4 --compression_type=none --num=50000000 --duration=10", 0.7),
    ],
)
def test_smax_is_never_above_the_predicted_closed_loop_maximum(args: str, cores: float) -> None:
    """The sanity bound: a sustainable rate above what the same run reaches with no rate limit
    at all is impossible, whatever the costs make the other bounds say."""
    for compaction in (COST, HEAVY):
        profile = _profile(compaction_costs={"default": compaction})
        prediction = predict_resource(parse_db_bench_args(args), profile, available_cores=cores)
        closed = prediction.closed_loop_ops_per_sec
        assert closed is not None and closed > 0
        assert prediction.smax_ops_per_sec <= closed
        assert prediction.bounds["closed_loop"] == closed
        assert prediction.p10_ops_per_sec is not None and prediction.p90_ops_per_sec is not None
        assert prediction.p10_ops_per_sec < prediction.smax_ops_per_sec < prediction.p90_ops_per_sec


def test_closed_loop_run_stalls_where_compaction_cannot_keep_up() -> None:
    c = DbBenchConfig(
        value_size=400,
        compression_type="none",
        num=2_000_000,
        duration=10,
        write_buffer_size=4 << 20,
    )
    closed = simulate(
        c,
        0.0,
        foreground_cpu_sec_per_op=5e-6,
        flush_cost=COST,
        compaction_cost=HEAVY,
        available_cores=1.0,
        closed=True,
    )
    assert closed.closed and not closed.sustainable
    assert closed.l0_max_files >= c.level0_slowdown_writes_trigger
    # the writer alone could do 1 / 5 us = 200k/s; the stalls hold the average far below
    assert closed.achieved_ops_per_sec < 100_000


def test_a_slower_cpu_second_scales_every_cost() -> None:
    c = DbBenchConfig(value_size=400, compression_type="none", num=2_000_000, duration=8)
    profile = _profile(cpu_speed_ns_per_iteration=100.0)
    same = predict_resource(c, profile, available_cores=1.0, cpu_speed_ns_per_iteration=100.0)
    slow = predict_resource(c, profile, available_cores=1.0, cpu_speed_ns_per_iteration=200.0)
    assert slow.details["cpu_speed_factor"] == 2.0
    assert slow.details["foreground_cpu_us_per_op"] == pytest.approx(
        2 * same.details["foreground_cpu_us_per_op"]
    )
    # half the CPU speed on the same cores: the same as half the cores at the old speed
    half = predict_resource(c, profile, available_cores=0.5)
    assert slow.smax_ops_per_sec == pytest.approx(half.smax_ops_per_sec, rel=0.02)


def test_a_compression_the_profile_has_not_measured_is_refused() -> None:
    profile = _profile(
        compaction_costs={"none": COST, "snappy": COST},
        flush_costs={"none": COST, "snappy": COST},
    )
    with pytest.raises(MissingCompressionError, match="no costs for compression 'zstd'"):
        predict_resource(DbBenchConfig(compression_type="zstd", num=100_000), profile)


def test_memtable_size_costs_the_writer() -> None:
    profile = _profile(foreground_cpu_sec_per_memtable_doubling=0.1e-6)
    small = predict_resource(SMALL.with_updates(write_buffer_size=2 << 20), profile)
    large = predict_resource(SMALL.with_updates(write_buffer_size=128 << 20), profile)
    assert large.details["foreground_cpu_us_per_op"] == pytest.approx(
        small.details["foreground_cpu_us_per_op"] + 0.1 * 6, rel=1e-6
    )


def test_compressed_fraction_comes_from_the_profile() -> None:
    profile = _profile(compressed_fraction={"zstd": 0.4})
    zstd = DbBenchConfig(value_size=1000, compression_type="zstd", num=100_000)
    assert predict_resource(zstd, profile).details["sst_bytes_per_entry"] == pytest.approx(
        16 + 8 + 400
    )
    # a run that asks db_bench for more compressible data keeps less
    denser = zstd.with_updates(compression_ratio=0.25)
    assert predict_resource(denser, profile).details["sst_bytes_per_entry"] == pytest.approx(
        16 + 8 + 200
    )

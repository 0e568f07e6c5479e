"""The resource model: S_max = min over resources of capacity / demand per operation.

Resources (capacities in cores or bytes/s, demands per put, C = cores available x correction):

- `writer_threads`: min(threads, C) / f, with f = c0 + c1*(key+value) CPU-seconds per put;
- `flush`: min(flush threads, C) / (a_f + b_f * sst bytes per entry);
- `compaction_threads`: min(compaction threads, C) / k, k = compaction CPU per put over the
  run's second half (a * records + b * bytes summed over the compactions the LSM needs);
- `cpu_total`: C / (f + flush + k);
- `device`: the envelope's bandwidth at the run's read share / device bytes per put
  (WAL + flush + compaction reads and writes);
- `lsm_backlog`: the highest rate at which the backlog simulation (`_lsm.simulate`) stays
  sustainable for the run's length and data volume: the L0 batches, the levels' growth from an
  empty database, stalls and CPU sharing between threads are all in it.

k and the write amplification depend on the rate (a run reaches a data volume that grows with
the rate when it is duration-bound, and slower compactions merge bigger L0 batches), so every
demand is evaluated at the simulated S_max.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, Field

from modelyard.perfmodels._config import DbBenchConfig
from modelyard.perfmodels._lsm import SimulationResult, simulate, sustainable_rate
from modelyard.perfmodels._profile import CpuCost, Profile


class SmaxPrediction(BaseModel):
    """What every S_max formula returns."""

    model: str
    smax_ops_per_sec: float = Field(..., description="maximum sustainable puts per second")
    binding: str = Field(..., description="the resource whose bound is smallest")
    bounds: dict[str, float] = Field(..., description="ops/s each resource allows")
    details: dict[str, Any] = Field(default_factory=dict)


class ResourceParameters(BaseModel):
    """The cost parameters an online tuner (RLS/Kalman) may update between predictions."""

    compaction_cpu_sec_per_record: float
    compaction_cpu_sec_per_byte: float
    flush_cpu_sec_per_record: float
    flush_cpu_sec_per_byte: float
    foreground_cpu_sec_per_op: float
    foreground_cpu_sec_per_byte: float
    foreground_cpu_sec_per_op_concurrent: float = 0.0
    compaction_io_sec_per_byte: float = 0.0
    flush_io_sec_per_byte: float = 0.0
    correction_factor: float = 1.0

    @classmethod
    def from_profile(cls, profile: Profile, compression: str) -> ResourceParameters:
        comp = profile.compaction_cost(compression)
        flush = profile.flush_cost(compression)
        return cls(
            compaction_cpu_sec_per_record=comp.cpu_sec_per_record,
            compaction_cpu_sec_per_byte=comp.cpu_sec_per_byte,
            flush_cpu_sec_per_record=flush.cpu_sec_per_record,
            flush_cpu_sec_per_byte=flush.cpu_sec_per_byte,
            foreground_cpu_sec_per_op=profile.foreground_cpu_sec_per_op,
            foreground_cpu_sec_per_byte=profile.foreground_cpu_sec_per_byte,
            foreground_cpu_sec_per_op_concurrent=profile.foreground_cpu_sec_per_op_concurrent,
            compaction_io_sec_per_byte=profile.compaction_io_sec_per_byte,
            flush_io_sec_per_byte=profile.flush_io_sec_per_byte,
            correction_factor=profile.correction_factor,
        )


def _device_bound(config: DbBenchConfig, profile: Profile, sim: SimulationResult) -> float:
    ops = sim.achieved_ops_per_sec * sim.seconds
    if ops <= 0:
        return float("inf")
    reads = sim.compaction_read_bytes / ops
    writes = config.wal_bytes_per_op + (sim.flush_bytes + sim.compaction_write_bytes) / ops
    total = reads + writes
    capacity = profile.envelope.write_capacity(reads / total if total else 0.0)
    return capacity / total if total else float("inf")


def predict_resource(
    config: DbBenchConfig,
    profile: Profile,
    *,
    available_cores: float | None = None,
    burst_cores: float | None = None,
    parameters: ResourceParameters | None = None,
) -> SmaxPrediction:
    """The resource model's S_max for one configuration on one profiled machine.

    `available_cores` is the CPU db_bench gets on average (default: the profile's);
    `burst_cores` (default: the same) is what it can get while all its threads want CPU, which
    on a shared machine is more than the average because the scheduler shares CPU by demand.
    The backlog simulation runs with the burst capacity; the CPU balance (`cpu_total`) uses the
    average capacity and the compaction work of a run that has only that capacity.
    """
    p = parameters or ResourceParameters.from_profile(profile, config.compression_type)
    cores = (available_cores if available_cores is not None else profile.cpu_available_cores) * (
        p.correction_factor
    )
    burst = max(cores, (burst_cores if burst_cores is not None else 0.0) * p.correction_factor)
    fg = p.foreground_cpu_sec_per_op + p.foreground_cpu_sec_per_byte * config.entry_bytes
    if config.threads > 1:
        fg += p.foreground_cpu_sec_per_op_concurrent
    flush_cost = CpuCost(
        cpu_sec_per_record=p.flush_cpu_sec_per_record, cpu_sec_per_byte=p.flush_cpu_sec_per_byte
    )
    comp_cost = CpuCost(
        cpu_sec_per_record=p.compaction_cpu_sec_per_record,
        cpu_sec_per_byte=p.compaction_cpu_sec_per_byte,
    )
    writer = min(config.threads, cores) / fg if fg > 0 else float("inf")
    flush_per_op = flush_cost.seconds(1.0, config.sst_bytes_per_entry)
    flush = min(config.flush_threads, cores) / flush_per_op if flush_per_op > 0 else float("inf")
    upper = min(writer, flush)
    if config.rate_limit_ops > 0:
        upper = min(upper, config.rate_limit_ops)
    rate, sim = sustainable_rate(
        config,
        foreground_cpu_sec_per_op=fg,
        flush_cost=flush_cost,
        compaction_cost=comp_cost,
        available_cores=burst,
        upper_ops_per_sec=upper,
        compaction_io_sec_per_byte=p.compaction_io_sec_per_byte,
        flush_io_sec_per_byte=p.flush_io_sec_per_byte,
    )
    # Every run below shares the costs; only the rate and the capacity change.
    run_at = functools.partial(
        simulate,
        config,
        foreground_cpu_sec_per_op=fg,
        flush_cost=flush_cost,
        compaction_cost=comp_cost,
        compaction_io_sec_per_byte=p.compaction_io_sec_per_byte,
        flush_io_sec_per_byte=p.flush_io_sec_per_byte,
    )
    if sim.ops_second_half <= 0:
        sim = run_at(max(rate, 1.0), available_cores=burst)

    def average_cost(rate: float) -> tuple[float, SimulationResult]:
        """Compaction CPU per put of a run that has only the average capacity."""
        run = run_at(max(rate, 1.0), available_cores=cores)
        return run.compaction_cpu_sec_second_half / max(run.ops_second_half, 1e-9), run

    # cpu_total: the fixed point S = cores / (f + flush + k(S)), k from the average-capacity run
    cpu_rate = min(rate, upper)
    comp_per_op, avg_sim = average_cost(cpu_rate)
    for _ in range(8):
        nxt = min(cores / (fg + flush_per_op + comp_per_op), upper)
        if abs(nxt - cpu_rate) <= 0.002 * cpu_rate:
            break
        cpu_rate = 0.5 * (cpu_rate + nxt)
        comp_per_op, avg_sim = average_cost(cpu_rate)
    burst_comp_per_op = sim.compaction_cpu_sec_second_half / max(sim.ops_second_half, 1e-9)
    comp_threads = min(config.compaction_threads, burst)
    bounds = {
        "writer_threads": writer,
        "flush": flush,
        "compaction_threads": comp_threads / burst_comp_per_op
        if burst_comp_per_op > 0
        else float("inf"),
        "cpu_total": cores / (fg + flush_per_op + comp_per_op),
        "device": _device_bound(config, profile, sim),
        "lsm_backlog": rate,
    }
    if config.rate_limit_ops > 0:
        bounds["rate_limit"] = config.rate_limit_ops
    binding = min(bounds, key=lambda k: bounds[k])
    return SmaxPrediction(
        model="smax_resource",
        smax_ops_per_sec=bounds[binding],
        binding=binding,
        bounds=bounds,
        details={
            "available_cores": cores,
            "burst_cores": burst,
            "foreground_cpu_us_per_op": fg * 1e6,
            "flush_cpu_us_per_op": flush_per_op * 1e6,
            "compaction_cpu_us_per_op": comp_per_op * 1e6,
            "write_amp": avg_sim.write_amp,
            "run_seconds": sim.seconds,
            "simulation": {
                "rate_ops_per_sec": sim.rate_ops_per_sec,
                "sustainable": sim.sustainable,
                "reasons": sim.reasons,
                "l0_max_files": sim.l0_max_files,
                "stall_fraction": sim.stall_fraction,
                "level_bytes": sim.level_bytes,
            },
            "parameters": p.model_dump(),
        },
    )

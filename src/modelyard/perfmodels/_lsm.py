"""The LSM shape and a backlog simulation of leveled compaction.

Two views of write amplification:

- `lsm_shape` / `textbook_write_amp`: the steady-state picture the earlier models used. Levels
  follow from the data volume, `max_bytes_for_level_base` and the fan-out T, and the RocksDB
  tuning guide's leveled write amplification is 1 + T/(T-1) * L (flush + one rewrite per level).
- `simulate`: a time-stepped run of one db_bench configuration at a given put rate, from an empty
  database, for the run's real length. Memtables fill and flush, L0 files are merged into L1 in
  batches (all L0 files present when the compaction starts, so a slower compaction merges more
  at once), levels spill one target-sized file at a time into the next, first moves into an
  empty level are trivial, duplicates collapse over the `num` key space, and the CPU is shared
  between the writer, flush and compaction threads by max-min fairness (each thread at most one
  core) out of the cores actually available. CPU costs come from the profile:
  a * records + b * bytes for every flush and compaction, plus the writer's CPU per put.
  The run is judged with the same sustainability criteria the measurement uses (stalls, L0 and
  pending-compaction trends over the second half, the writer reaching its rate), so
  `sustainable_rate` is the model's S_max for that configuration, data volume and CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modelyard.perfmodels._config import DbBenchConfig
from modelyard.perfmodels._profile import CpuCost


@dataclass(frozen=True)
class LsmShape:
    db_bytes: float
    levels: int
    level_targets: list[float]


def lsm_shape(config: DbBenchConfig, db_bytes: float) -> LsmShape:
    """Levels needed to hold `db_bytes` (L1 = base, each next level x multiplier)."""
    targets: list[float] = []
    total = 0.0
    level = 1
    while True:
        target = config.level_target_bytes(level)
        targets.append(target)
        total += target
        if total >= db_bytes or level >= config.num_levels - 1:
            break
        level += 1
    return LsmShape(db_bytes, len(targets), targets)


def final_db_bytes(config: DbBenchConfig, ops_per_sec: float) -> float:
    """SST bytes the run leaves (distinct keys times bytes per entry)."""
    return config.unique_keys(config.operations_at(ops_per_sec)) * config.sst_bytes_per_entry


def textbook_write_amp(config: DbBenchConfig, db_bytes: float) -> float:
    """1 + T/(T-1) * L: the RocksDB tuning guide's leveled write amplification."""
    t = config.max_bytes_for_level_multiplier
    levels = lsm_shape(config, db_bytes).levels
    return 1.0 + t / (t - 1.0) * levels


@dataclass
class _Job:
    source: int  # 0 for L0->L1, i for Li->Li+1
    cpu_left: float
    io_left: float
    in_entries: float
    out_entries: float
    l0_files: int = 0
    moved_entries: float = 0.0
    read_bytes: float = 0.0
    write_bytes: float = 0.0


@dataclass
class SimulationResult:
    rate_ops_per_sec: float
    seconds: float
    sustainable: bool
    reasons: list[str]
    achieved_ops_per_sec: float
    second_half_ops_per_sec: float
    stall_fraction: float
    l0_max_files: int
    l0_increase_files: float
    pending_increase_bytes: float
    pending_mean_bytes: float
    ingest_bytes: float
    flush_bytes: float
    compaction_read_bytes: float
    compaction_write_bytes: float
    compaction_cpu_sec: float
    flush_cpu_sec: float
    foreground_cpu_sec: float
    compaction_cpu_sec_second_half: float
    flush_cpu_sec_second_half: float
    ops_second_half: float
    level_bytes: list[float] = field(default_factory=list)

    @property
    def write_amp(self) -> float:
        """(flush + compaction writes) per ingested key+value byte."""
        return (
            (self.flush_bytes + self.compaction_write_bytes) / self.ingest_bytes
            if self.ingest_bytes
            else 0.0
        )


def _fair_share(demands: list[float], capacity: float) -> list[float]:
    """Max-min fair allocation of `capacity` cores; every demand is at most one core."""
    alloc = [0.0] * len(demands)
    remaining = capacity
    pending = sorted(range(len(demands)), key=lambda i: demands[i])
    while pending:
        share = remaining / len(pending)
        i = pending[0]
        if demands[i] <= share:
            alloc[i] = demands[i]
            remaining -= demands[i]
            pending.pop(0)
        else:
            for j in pending:
                alloc[j] = share
            break
    return alloc


def _slope_increase(points: list[tuple[float, float]], span: float) -> float:
    if len(points) < 3:
        return 0.0
    n = len(points)
    mt = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mt) ** 2 for p in points)
    if var <= 0:
        return 0.0
    return sum((p[0] - mt) * (p[1] - my) for p in points) / var * span


def _union(n_keys: float, a: float, b: float) -> float:
    """Expected distinct keys of two uniform random key sets of sizes a and b over n_keys."""
    if n_keys <= 0:
        return a + b
    return n_keys * (1.0 - (1.0 - min(a, n_keys) / n_keys) * (1.0 - min(b, n_keys) / n_keys))


def simulate(
    config: DbBenchConfig,
    rate_ops_per_sec: float,
    *,
    foreground_cpu_sec_per_op: float,
    flush_cost: CpuCost,
    compaction_cost: CpuCost,
    available_cores: float,
    compaction_io_sec_per_byte: float = 0.0,
    flush_io_sec_per_byte: float = 0.0,
    writer_first: bool = True,
    max_steps: int = 20000,
) -> SimulationResult:
    """Run the configuration at `rate_ops_per_sec` from an empty database (see module doc)."""
    rate = max(rate_ops_per_sec, 1e-6)
    seconds = config.run_seconds_at(rate)
    dt = max(0.01, seconds / max_steps)
    spe = config.sst_bytes_per_entry
    mem_per_op = config.memtable_bytes_per_op
    entries_per_mem = config.write_buffer_size / mem_per_op
    n_keys = float(config.num) if not config.benchmarks.startswith("fillseq") else 1e18
    threads = max(1, config.threads)
    trigger = config.level0_file_num_compaction_trigger
    slowdown = config.level0_slowdown_writes_trigger
    stop = config.level0_stop_writes_trigger
    speedup_at = trigger + (slowdown - trigger) // 4
    nlev = config.num_levels
    delayed_ops = config.delayed_write_rate / config.entry_bytes

    mem_entries = 0.0
    imm: list[float] = []  # entries of immutable memtables, oldest first
    flush_left: list[list[float]] = []  # [CPU-seconds, blocked seconds] left per flush
    l0: list[float] = []  # entries per L0 file
    levels = [0.0] * nlev  # entries per level (index 0 unused)
    jobs: list[_Job] = []
    busy_levels: set[int] = set()

    t = 0.0
    ops_done = 0.0
    half = seconds / 2.0
    stall_time = 0.0
    ingest = flush_bytes = c_read = c_write = 0.0
    c_cpu = f_cpu = fg_cpu = c_cpu2 = f_cpu2 = ops2 = 0.0
    l0_points: list[tuple[float, float]] = []
    pending_points: list[tuple[float, float]] = []
    next_l0_sample = half
    next_pending_sample = math.floor(half) + 1.0
    l0_max = 0

    def l0_in_job() -> int:
        return sum(j.l0_files for j in jobs)

    def pending_bytes() -> float:
        pending = 0.0
        carried = 0.0
        for lvl in range(1, nlev):
            size = levels[lvl] * spe + carried
            target = config.level_target_bytes(lvl)
            carried = 0.0
            if size > target:
                excess = size - target
                carried = excess
                nxt = levels[lvl + 1] * spe if lvl + 1 < nlev else 0.0
                pending += excess * (nxt / size + 1.0)
        return pending

    def schedule() -> None:
        parallel = config.compaction_threads if len(l0) >= speedup_at else 1
        while len(jobs) < parallel:
            candidates: list[tuple[float, int]] = []
            free_l0 = len(l0) - l0_in_job()
            if free_l0 >= trigger and not ({0, 1} & busy_levels):
                candidates.append((free_l0 / trigger, 0))
            for lvl in range(1, nlev - 1):
                if {lvl, lvl + 1} & busy_levels or levels[lvl] <= 0:
                    continue
                score = levels[lvl] * spe / config.level_target_bytes(lvl)
                if score >= 1.0:
                    candidates.append((score, lvl))
            if not candidates:
                return
            _, src = max(candidates)
            if src == 0:
                files = len(l0)
                e0 = sum(l0)
                e1 = levels[1]
                # L0 files are e0 uniform draws (duplicates across files collapse too)
                out = n_keys * (1.0 - (1.0 - min(e1, n_keys) / n_keys) * math.exp(-e0 / n_keys))
                records = e0 + e1 + out
                rbytes = (e0 + e1) * spe
                wbytes = out * spe
                job = _Job(
                    0,
                    compaction_cost.seconds(records, rbytes + wbytes),
                    compaction_io_sec_per_byte * wbytes,
                    e0 + e1,
                    out,
                )
                job.l0_files = files
                job.read_bytes, job.write_bytes = rbytes, wbytes
                busy_levels.update({0, 1})
            else:
                ef = min(levels[src], config.target_file_bytes(src) / spe)
                nxt = levels[src + 1]
                if nxt <= 0:  # trivial move into an empty level
                    levels[src] -= ef
                    levels[src + 1] += ef
                    continue
                phi = ef / levels[src]
                ov = nxt * phi
                out = _union(n_keys * phi, ef, ov)
                records = ef + ov + out
                rbytes = (ef + ov) * spe
                wbytes = out * spe
                job = _Job(
                    src,
                    compaction_cost.seconds(records, rbytes + wbytes),
                    compaction_io_sec_per_byte * wbytes,
                    ef + ov,
                    out,
                )
                job.moved_entries = ef
                job.read_bytes, job.write_bytes = rbytes, wbytes
                busy_levels.update({src, src + 1})
            jobs.append(job)

    while t < seconds - 1e-9:
        step = min(dt, seconds - t)
        # how fast may writers go this step?
        desired = rate
        stalled = False
        mem_full_blocked = mem_entries >= entries_per_mem and len(imm) >= max(
            1, config.max_write_buffer_number - 1
        )
        if len(l0) >= stop or mem_full_blocked:
            allowed = 0.0
            stalled = True
        elif len(l0) >= slowdown:
            allowed = min(desired, delayed_ops)
            stalled = allowed < desired
        else:
            allowed = desired
        n_flush = min(len(imm), config.flush_threads)
        while len(flush_left) < n_flush:
            entries = imm[len(flush_left)]
            flush_left.append(
                [
                    flush_cost.seconds(entries, entries * spe),
                    flush_io_sec_per_byte * entries * spe,
                ]
            )
        flush_on_cpu = [f[0] > 0 for f in flush_left[:n_flush]]
        writer_demand = [min(1.0, allowed * foreground_cpu_sec_per_op / threads)] * threads
        demands = (
            writer_demand
            + [1.0 if on else 0.0 for on in flush_on_cpu]
            + [1.0 if j.cpu_left > 0 else 0.0 for j in jobs]
        )
        if writer_first:
            # a rate-limited writer sleeps between requests; CFS runs it as soon as it wakes
            # (wakeup preemption), so it is served first and the background threads share
            # what is left
            writer_alloc = _fair_share(demands[:threads], min(available_cores, float(threads)))
            rest = _fair_share(demands[threads:], max(available_cores - sum(writer_alloc), 0.0))
            alloc = writer_alloc + rest
        else:
            alloc = _fair_share(demands, available_cores)
        writer_cores = sum(alloc[:threads])
        achieved = (
            min(allowed, writer_cores / foreground_cpu_sec_per_op)
            if foreground_cpu_sec_per_op > 0
            else allowed
        )
        if stalled and desired > 0:
            stall_time += step * (1.0 - achieved / desired)
        ops = achieved * step
        ops_done += ops
        fg_cpu += ops * foreground_cpu_sec_per_op
        ingest += ops * config.entry_bytes
        if t >= half:
            ops2 += ops
        mem_entries += ops
        if mem_entries >= entries_per_mem and len(imm) < max(1, config.max_write_buffer_number - 1):
            imm.append(entries_per_mem)
            mem_entries -= entries_per_mem
        # background progress
        for k in range(n_flush):
            if flush_left[k][0] > 0:
                spent = alloc[threads + k] * step
                flush_left[k][0] -= spent
                f_cpu += spent
                if t >= half:
                    f_cpu2 += spent
            else:
                flush_left[k][1] -= step
        while flush_left and flush_left[0][0] <= 0 and flush_left[0][1] <= 0:
            flush_left.pop(0)
            entries = imm.pop(0)
            l0.append(entries)
            flush_bytes += entries * spe
        for k, job in enumerate(list(jobs)):
            if job.cpu_left > 0:
                spent = alloc[threads + n_flush + k] * step
                job.cpu_left -= spent
                c_cpu += spent
                if t >= half:
                    c_cpu2 += spent
            else:
                job.io_left -= step
        for job in [j for j in jobs if j.cpu_left <= 0 and j.io_left <= 0]:
            jobs.remove(job)
            c_read += job.read_bytes
            c_write += job.write_bytes
            if job.source == 0:
                del l0[: job.l0_files]
                levels[1] = job.out_entries
                busy_levels.difference_update({0, 1})
            else:
                levels[job.source] -= job.moved_entries
                levels[job.source + 1] += job.out_entries - (job.in_entries - job.moved_entries)
                busy_levels.difference_update({job.source, job.source + 1})
        schedule()
        t += step
        l0_max = max(l0_max, len(l0))
        while next_l0_sample <= t and next_l0_sample <= seconds:
            l0_points.append((next_l0_sample, float(len(l0))))
            next_l0_sample += 0.5
        while next_pending_sample <= t and next_pending_sample <= seconds:
            pending_points.append((next_pending_sample, pending_bytes()))
            next_pending_sample += 1.0

    second_rate = ops2 / max(seconds - half, 1e-9)
    stall_fraction = stall_time / seconds
    l0_increase = _slope_increase(l0_points, seconds - half)
    pending_mean = (
        sum(p[1] for p in pending_points) / len(pending_points) if pending_points else 0.0
    )
    pending_increase = _slope_increase(pending_points, seconds - half)
    reasons: list[str] = []
    if stall_fraction >= 0.01:
        reasons.append(f"stalls {stall_fraction:.1%}")
    if second_rate < 0.95 * rate:
        reasons.append(f"writer reached {second_rate / rate:.1%} of the rate")
    if l0_increase > trigger:
        reasons.append(f"L0 grew by {l0_increase:.1f} files")
    if l0_max >= slowdown:
        reasons.append(f"L0 reached {l0_max} files")
    batch = 2.0 * trigger * config.flush_file_bytes
    if pending_increase > max(0.5 * pending_mean, batch):
        reasons.append(f"pending compaction grew by {pending_increase / 2**20:.0f} MiB")
    return SimulationResult(
        rate_ops_per_sec=rate,
        seconds=seconds,
        sustainable=not reasons,
        reasons=reasons,
        achieved_ops_per_sec=ops_done / seconds,
        second_half_ops_per_sec=second_rate,
        stall_fraction=stall_fraction,
        l0_max_files=l0_max,
        l0_increase_files=l0_increase,
        pending_increase_bytes=pending_increase,
        pending_mean_bytes=pending_mean,
        ingest_bytes=ingest,
        flush_bytes=flush_bytes,
        compaction_read_bytes=c_read,
        compaction_write_bytes=c_write,
        compaction_cpu_sec=c_cpu,
        flush_cpu_sec=f_cpu,
        foreground_cpu_sec=fg_cpu,
        compaction_cpu_sec_second_half=c_cpu2,
        flush_cpu_sec_second_half=f_cpu2,
        ops_second_half=ops2,
        level_bytes=[sum(l0) * spe, *(e * spe for e in levels[1:])],
    )


def sustainable_rate(
    config: DbBenchConfig,
    *,
    foreground_cpu_sec_per_op: float,
    flush_cost: CpuCost,
    compaction_cost: CpuCost,
    available_cores: float,
    upper_ops_per_sec: float,
    compaction_io_sec_per_byte: float = 0.0,
    flush_io_sec_per_byte: float = 0.0,
    iterations: int = 16,
) -> tuple[float, SimulationResult]:
    """The highest rate the simulation finds sustainable, by bisection below `upper`."""

    def run(rate: float) -> SimulationResult:
        return simulate(
            config,
            rate,
            foreground_cpu_sec_per_op=foreground_cpu_sec_per_op,
            flush_cost=flush_cost,
            compaction_cost=compaction_cost,
            available_cores=available_cores,
            compaction_io_sec_per_byte=compaction_io_sec_per_byte,
            flush_io_sec_per_byte=flush_io_sec_per_byte,
        )

    top = run(upper_ops_per_sec)
    if top.sustainable:
        return upper_ops_per_sec, top
    lo, hi = 0.0, upper_ops_per_sec
    best: SimulationResult | None = None
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        result = run(mid)
        if result.sustainable:
            lo, best = mid, result
        else:
            hi = mid
        if (hi - lo) / hi < 0.005:
            break
    if best is None:
        best = run(max(lo, 1.0))
    return lo, best

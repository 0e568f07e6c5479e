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
    """A flush or compaction in progress: CPU to spend, device bytes to write, then blocked time."""

    source: int  # -1 for a flush, -2 for L0->L0, 0 for L0->L1, i for Li->Li+1
    cpu_total: float
    write_bytes: float
    blocked_left: float
    in_entries: float = 0.0
    out_entries: float = 0.0
    l0_files: int = 0
    l0_start: int = 0
    moved_entries: float = 0.0
    read_bytes: float = 0.0
    device_bytes: float = 0.0  # what the device handles: the writes, and discards if any
    done: float = 0.0  # fraction of the CPU and device work finished

    @property
    def working(self) -> bool:
        return self.done < 1.0 - 1e-12


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
    closed: bool = False
    device_busy_fraction: float = 0.0  # device work done / what the bandwidth allowed
    cpu_busy_fraction: float = 0.0  # CPU spent / the cores available over the run

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


@dataclass(frozen=True)
class SimulationCosts:
    """What the threads pay: CPU-seconds per put, per flush and per compaction, and the time a
    background thread is blocked (not on CPU) per byte it writes."""

    foreground_cpu_sec_per_op: float
    flush_cost: CpuCost
    compaction_cost: CpuCost
    compaction_io_sec_per_byte: float = 0.0
    flush_io_sec_per_byte: float = 0.0


class _Run:
    """One simulated db_bench run; `run()` advances it step by step (see the module doc).

    Each step: the writers' allowance (stalls), starting flushes, sharing the CPU, the writers'
    progress, the background threads' progress (CPU and device), finishing jobs, scheduling
    new compactions, sampling L0 and the pending compaction bytes. `judge()` applies the
    measurement's sustainability criteria.
    """

    def __init__(
        self,
        config: DbBenchConfig,
        rate: float,
        costs: SimulationCosts,
        *,
        available_cores: float,
        single_thread_cores: float | None,
        sst_bytes_per_entry: float,
        device_write_bytes_per_sec: float | None,
        device_discards: bool,
        writer_first: bool,
        closed: bool,
        max_steps: int,
    ) -> None:
        self.config = config
        self.costs = costs
        self.cores = available_cores
        self.single = min(1.0, single_thread_cores or available_cores)
        self.device = device_write_bytes_per_sec
        self.discards = device_discards
        self.writer_first = writer_first and not closed
        self.closed = closed
        self.threads = max(1, config.threads)
        fg = costs.foreground_cpu_sec_per_op
        writer_max = min(float(self.threads), available_cores) / fg if fg > 0 else 1e12
        self.rate = writer_max if closed else max(rate, 1e-6)
        self.num_bound = config.duration <= 0
        self.seconds = config.run_seconds_at(self.rate)
        self.dt = max(0.01, self.seconds / max_steps)
        self.max_seconds = self.seconds * (20.0 if closed and self.num_bound else 1.0)
        self.spe = sst_bytes_per_entry
        self.entries_per_mem = config.write_buffer_size / config.memtable_bytes_per_op
        self.flush_file_bytes = self.entries_per_mem * sst_bytes_per_entry
        self.n_keys = float(config.num) if not config.benchmarks.startswith("fillseq") else 1e18
        self.trigger = config.level0_file_num_compaction_trigger
        self.slowdown = config.level0_slowdown_writes_trigger
        self.stop = config.level0_stop_writes_trigger
        self.speedup_at = self.trigger + (self.slowdown - self.trigger) // 4
        self.nlev = config.num_levels
        self.delayed_ops = config.delayed_write_rate / config.entry_bytes
        self.max_immutable = max(1, max(2, config.max_write_buffer_number) - 1)
        # state
        self.t = 0.0
        self.mem_entries = 0.0
        self.imm: list[float] = []  # entries of immutable memtables, oldest first
        self.flushes: list[_Job] = []  # running flushes, oldest first
        self.l0: list[float] = []  # entries per L0 file
        self.levels = [0.0] * self.nlev  # entries per level (index 0 unused)
        # fraction of the key range each level's files cover: an L0->L1 merge covers all of
        # it; files moved down one by one cover only their own ranges
        self.coverage = [0.0] * self.nlev
        self.jobs: list[_Job] = []  # running compactions
        self.busy_levels: set[int] = set()
        # accounting
        self.ops_done = self.ops2 = self.stall_time = 0.0
        self.ingest = self.flush_bytes = self.c_read = self.c_write = 0.0
        self.device_done = 0.0
        self.c_cpu = self.f_cpu = self.fg_cpu = self.c_cpu2 = self.f_cpu2 = 0.0
        self.l0_points: list[tuple[float, float]] = []
        self.pending_points: list[tuple[float, float]] = []
        self.l0_max = 0
        self.l0_times: list[tuple[float, int]] = []
        self.pending_times: list[tuple[float, float]] = []

    # -- the steps ------------------------------------------------------------------------
    def writer_allowance(self) -> tuple[float, bool]:
        """The rate the writers may go at this step, and whether that is a stall."""
        mem_full = self.mem_entries >= self.entries_per_mem and len(self.imm) >= self.max_immutable
        if len(self.l0) >= self.stop or mem_full:
            return 0.0, True
        if len(self.l0) >= self.slowdown:
            allowed = min(self.rate, self.delayed_ops)
            return allowed, allowed < self.rate
        return self.rate, False

    def start_flushes(self) -> None:
        while len(self.flushes) < min(len(self.imm), self.config.flush_threads):
            entries = self.imm[len(self.flushes)]
            written = entries * self.spe
            job = _Job(
                -1,
                self.costs.flush_cost.seconds(entries, written),
                written,
                self.costs.flush_io_sec_per_byte * written,
                in_entries=entries,
            )
            # the WAL file the flush makes obsolete is deleted (and discarded) after it
            wal = entries * self.config.wal_bytes_per_op if self.discards else 0.0
            job.device_bytes = written + wal
            self.flushes.append(job)

    def share_cpu(self, allowed: float) -> tuple[list[float], list[float]]:
        """Cores for the writer threads and for each flush then compaction.

        The kernel gives db_bench's session one weight and puts it on the CPUs its runnable
        threads are on: one thread alone gets `single_thread_cores`, several share
        `available_cores` (both sampled before the run)."""
        fg = self.costs.foreground_cpu_sec_per_op
        if self.closed:
            want = 1.0 if allowed > 0 else 0.0
            writers = [min(want, allowed * fg / self.threads)] * self.threads
        else:
            writers = [min(1.0, allowed * fg / self.threads)] * self.threads
        background = [1.0 if j.working else 0.0 for j in (*self.flushes, *self.jobs)]
        runnable = sum(1 for d in (*writers, *background) if d > 0)
        capacity = self.single if runnable <= 1 else self.cores
        if self.writer_first:
            # a rate-limited writer sleeps between requests; CFS runs it as soon as it wakes
            # (wakeup preemption), so it is served first and the background threads share
            # what is left
            writer_alloc = _fair_share(writers, min(capacity, float(self.threads)))
            rest = _fair_share(background, max(capacity - sum(writer_alloc), 0.0))
            return writer_alloc, rest
        alloc = _fair_share(writers + background, capacity)
        return alloc[: self.threads], alloc[self.threads :]

    def advance_writers(self, cores: float, allowed: float, stalled: bool, step: float) -> None:
        fg = self.costs.foreground_cpu_sec_per_op
        achieved = min(allowed, cores / fg) if fg > 0 else allowed
        if stalled and self.rate > 0:
            self.stall_time += step * max(0.0, 1.0 - achieved / self.rate)
        ops = achieved * step
        if self.num_bound:
            ops = min(ops, self.config.num - self.ops_done)
        self.ops_done += ops
        self.fg_cpu += ops * fg
        self.ingest += ops * self.config.entry_bytes
        if self.t >= self.seconds / 2.0:
            self.ops2 += ops
        self.mem_entries += ops
        if self.mem_entries >= self.entries_per_mem and len(self.imm) < self.max_immutable:
            self.imm.append(self.entries_per_mem)
            self.mem_entries -= self.entries_per_mem

    def advance_background(self, cores: list[float], step: float) -> None:
        """Flushes and compactions progress by CPU and by the device's write bandwidth."""
        running = [*self.flushes, *self.jobs]
        writing = [j for j in running if j.working and j.device_bytes > 0]
        device_share = self.device / len(writing) if self.device and writing else None
        second_half = self.t >= self.seconds / 2.0
        for job, core in zip(running, cores, strict=True):
            if not job.working:
                job.blocked_left -= step
                continue
            progress = core * step / job.cpu_total if job.cpu_total > 0 else 1.0
            if device_share is not None and job.device_bytes > 0:
                progress = min(progress, device_share * step / job.device_bytes)
            progress = min(progress, 1.0 - job.done)
            job.done += progress
            spent = progress * job.cpu_total
            if job.source == -1:
                self.f_cpu += spent
                self.f_cpu2 += spent if second_half else 0.0
            else:
                self.c_cpu += spent
                self.c_cpu2 += spent if second_half else 0.0

    def finish_jobs(self) -> None:
        while self.flushes and not self.flushes[0].working and self.flushes[0].blocked_left <= 0:
            flush = self.flushes.pop(0)
            entries = self.imm.pop(0)
            self.l0.append(entries)
            self.flush_bytes += flush.write_bytes
            self.device_done += flush.device_bytes
        for job in [j for j in self.jobs if not j.working and j.blocked_left <= 0]:
            self.jobs.remove(job)
            self.c_read += job.read_bytes
            self.c_write += job.write_bytes
            self.device_done += job.device_bytes
            if job.source == 0:
                del self.l0[: job.l0_files]
                for other in self.jobs:
                    if other.source == -2:
                        other.l0_start -= job.l0_files
                self.levels[1] = job.out_entries
                self.coverage[1] = 1.0
                self.busy_levels.difference_update({0, 1})
            elif job.source == -2:
                start = job.l0_start
                self.l0[start : start + job.l0_files] = [job.out_entries]
            else:
                src = job.source
                self.levels[src] -= job.moved_entries
                self.levels[src + 1] += job.out_entries - (job.in_entries - job.moved_entries)
                self.busy_levels.difference_update({src, src + 1})

    def _compaction_job(self, source: int, in_entries: float, out: float, rbytes: float) -> _Job:
        wbytes = out * self.spe
        records = in_entries + out
        return _Job(
            source,
            self.costs.compaction_cost.seconds(records, rbytes + wbytes),
            wbytes,
            self.costs.compaction_io_sec_per_byte * wbytes,
            in_entries=in_entries,
            out_entries=out,
            read_bytes=rbytes,
            # the input files are deleted (and discarded) once the output is written
            device_bytes=wbytes + (rbytes if self.discards else 0.0),
        )

    def schedule(self) -> None:
        """Start the compactions RocksDB would: highest score first, one at a time unless L0
        is at the speed-up threshold; L0->L1 takes every L0 file and the whole of L1."""
        config = self.config
        parallel = config.compaction_threads if len(self.l0) >= self.speedup_at else 1
        while len(self.jobs) < parallel:
            candidates: list[tuple[float, int]] = []
            free_l0 = len(self.l0) - sum(j.l0_files for j in self.jobs)
            if free_l0 >= self.trigger and not ({0, 1} & self.busy_levels):
                candidates.append((free_l0 / self.trigger, 0))
            elif self._intra_l0_possible(free_l0):
                candidates.append((free_l0 / self.trigger, -2))
            for lvl in range(1, self.nlev - 1):
                if {lvl, lvl + 1} & self.busy_levels or self.levels[lvl] <= 0:
                    continue
                score = self.levels[lvl] * self.spe / config.level_target_bytes(lvl)
                if score >= 1.0:
                    candidates.append((score, lvl))
            if not candidates:
                return
            _, src = max(candidates)
            n = self.n_keys
            if src == -2:  # L0->L0: merge the newest free L0 files into one
                start = len(self.l0) - free_l0
                entries = sum(self.l0[start:])
                out = n * (1.0 - math.exp(-entries / n))
                job = self._compaction_job(-2, entries, out, entries * self.spe)
                job.l0_start, job.l0_files = start, free_l0
            elif src == 0:
                # the oldest L0 files: all of them, or those older than an L0->L0 in progress
                intra = [j.l0_start for j in self.jobs if j.source == -2]
                files = min(intra) if intra else len(self.l0)
                e0, e1 = sum(self.l0[:files]), self.levels[1]
                # L0 files are e0 uniform draws (duplicates across files collapse too)
                out = n * (1.0 - (1.0 - min(e1, n) / n) * math.exp(-e0 / n))
                job = self._compaction_job(0, e0 + e1, out, (e0 + e1) * self.spe)
                job.l0_files = files
                self.busy_levels.update({0, 1})
            else:
                ef = min(self.levels[src], config.target_file_bytes(src) / self.spe)
                nxt = self.levels[src + 1]
                phi = ef / self.levels[src]
                width = phi * self.coverage[src]  # the file's share of the key range
                covered = self.coverage[src + 1] if nxt > 0 else 0.0
                # RocksDB 7.8 picks the file that overlaps the next level least
                # (kMinOverlappingRatio): into a level with gaps, that is a trivial move
                overlapped = max(0.0, width - (1.0 - covered))
                self.coverage[src] = max(0.0, self.coverage[src] - width)
                self.coverage[src + 1] = min(1.0, covered + width - overlapped)
                if overlapped <= 1e-9:
                    self.levels[src] -= ef
                    self.levels[src + 1] += ef
                    continue
                overlap = nxt * overlapped / max(covered, 1e-9)
                out = _union(n * phi, ef, overlap)
                job = self._compaction_job(src, ef + overlap, out, (ef + overlap) * self.spe)
                job.moved_entries = ef
                self.busy_levels.update({src, src + 1})
            self.jobs.append(job)

    def _intra_l0_possible(self, free_l0: int) -> bool:
        """RocksDB's L0->L0 compaction: while L0->L1 holds the base level, at least four newer
        L0 files (and L0 at the trigger + 2) are merged among themselves, keeping the L0 file
        count (and so the stall triggers) down without touching L1."""
        l0_to_l1 = any(j.source == 0 for j in self.jobs)
        intra = any(j.source == -2 for j in self.jobs)
        return l0_to_l1 and not intra and free_l0 >= 4 and len(self.l0) >= self.trigger + 2

    def pending_bytes(self) -> float:
        """RocksDB's estimate of the compaction bytes needed below L0."""
        pending = carried = 0.0
        for lvl in range(1, self.nlev):
            size = self.levels[lvl] * self.spe + carried
            target = self.config.level_target_bytes(lvl)
            carried = 0.0
            if size > target:
                excess = size - target
                carried = excess
                nxt = self.levels[lvl + 1] * self.spe if lvl + 1 < self.nlev else 0.0
                pending += excess * (nxt / size + 1.0)
        return pending

    def sample(self) -> None:
        self.l0_max = max(self.l0_max, len(self.l0))
        self.l0_times.append((self.t, len(self.l0)))
        if not self.pending_times or self.t - self.pending_times[-1][0] >= 1.0 - 1e-9:
            self.pending_times.append((self.t, self.pending_bytes()))

    def finished(self) -> bool:
        if self.num_bound:
            return self.ops_done >= self.config.num - 1e-6 or self.t >= self.max_seconds
        return self.t >= self.seconds - 1e-9

    def step(self) -> None:
        step = self.dt if self.num_bound else min(self.dt, self.seconds - self.t)
        allowed, stalled = self.writer_allowance()
        self.start_flushes()
        writer_cores, background_cores = self.share_cpu(allowed)
        self.advance_writers(sum(writer_cores), allowed, stalled, step)
        self.advance_background(background_cores, step)
        self.finish_jobs()
        self.schedule()
        self.t += step
        self.sample()

    def run(self) -> SimulationResult:
        while not self.finished():
            self.step()
        if self.closed and self.num_bound:
            self.seconds = max(self.t, 1e-9)  # a closed num-bound run lasts what it takes
        return self.judge()

    def judge(self) -> SimulationResult:
        """The measurement's criteria applied to the simulated run."""
        seconds = self.seconds
        half = seconds / 2.0
        l0_points = _step_points(self.l0_times, half, seconds, 0.5)
        pending_points = [(t, v) for t, v in self.pending_times if t > half]
        second_rate = self.ops2 / max(seconds - half, 1e-9)
        if self.closed and self.num_bound:  # ops2 was counted against an estimated half
            second_rate = self.ops_done / seconds
        stall_fraction = self.stall_time / seconds
        l0_increase = _slope_increase(l0_points, seconds - half)
        pending_mean = (
            sum(p[1] for p in pending_points) / len(pending_points) if pending_points else 0.0
        )
        pending_increase = _slope_increase(pending_points, seconds - half)
        reasons: list[str] = []
        if stall_fraction >= 0.01:
            reasons.append(f"stalls {stall_fraction:.1%}")
        if not self.closed and second_rate < 0.95 * self.rate:
            reasons.append(f"writer reached {second_rate / self.rate:.1%} of the rate")
        if l0_increase > self.trigger:
            reasons.append(f"L0 grew by {l0_increase:.1f} files")
        if self.l0_max >= self.slowdown:
            reasons.append(f"L0 reached {self.l0_max} files")
        batch = 2.0 * self.trigger * self.flush_file_bytes
        if pending_increase > max(0.5 * pending_mean, batch):
            reasons.append(f"pending compaction grew by {pending_increase / 2**20:.0f} MiB")
        return SimulationResult(
            rate_ops_per_sec=self.rate,
            seconds=seconds,
            sustainable=not reasons,
            reasons=reasons,
            achieved_ops_per_sec=self.ops_done / seconds,
            second_half_ops_per_sec=second_rate,
            stall_fraction=stall_fraction,
            l0_max_files=self.l0_max,
            l0_increase_files=l0_increase,
            pending_increase_bytes=pending_increase,
            pending_mean_bytes=pending_mean,
            ingest_bytes=self.ingest,
            flush_bytes=self.flush_bytes,
            compaction_read_bytes=self.c_read,
            compaction_write_bytes=self.c_write,
            compaction_cpu_sec=self.c_cpu,
            flush_cpu_sec=self.f_cpu,
            foreground_cpu_sec=self.fg_cpu,
            compaction_cpu_sec_second_half=self.c_cpu2,
            flush_cpu_sec_second_half=self.f_cpu2,
            ops_second_half=self.ops2,
            level_bytes=[sum(self.l0) * self.spe, *(e * self.spe for e in self.levels[1:])],
            closed=self.closed,
            device_busy_fraction=(
                self.device_done / (self.device * seconds) if self.device else 0.0
            ),
            cpu_busy_fraction=(self.fg_cpu + self.f_cpu + self.c_cpu) / (self.cores * seconds),
        )


def _step_points(
    timeline: list[tuple[float, int]], start: float, end: float, step: float
) -> list[tuple[float, float]]:
    """A step function sampled every `step` seconds over [start, end]."""
    points: list[tuple[float, float]] = []
    value = 0
    index = 0
    t = start
    while t <= end + 1e-9:
        while index < len(timeline) and timeline[index][0] <= t + 1e-9:
            value = timeline[index][1]
            index += 1
        points.append((t, float(value)))
        t += step
    return points


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
    sst_bytes_per_entry: float | None = None,
    device_write_bytes_per_sec: float | None = None,
    closed: bool = False,
    single_thread_cores: float | None = None,
    device_discards: bool = False,
) -> SimulationResult:
    """Run the configuration at `rate_ops_per_sec` from an empty database (see module doc).

    `closed=True` runs it without a rate limit (the writers take what CPU they get; the rate
    is ignored): its achieved rate is the closed-loop maximum a db_bench run would show.
    `sst_bytes_per_entry` (default: the configuration's, with its `--compression_ratio`) and
    `device_write_bytes_per_sec` (default: unlimited) describe the SST files and the device;
    with `device_discards` (a file system mounted with online discard) every deleted file's
    bytes (compaction inputs, the WAL after a flush) are device work too.
    """
    costs = SimulationCosts(
        foreground_cpu_sec_per_op=foreground_cpu_sec_per_op,
        flush_cost=flush_cost,
        compaction_cost=compaction_cost,
        compaction_io_sec_per_byte=compaction_io_sec_per_byte,
        flush_io_sec_per_byte=flush_io_sec_per_byte,
    )
    return _Run(
        config,
        rate_ops_per_sec,
        costs,
        available_cores=available_cores,
        single_thread_cores=single_thread_cores,
        sst_bytes_per_entry=sst_bytes_per_entry or config.sst_bytes_per_entry,
        device_write_bytes_per_sec=device_write_bytes_per_sec,
        device_discards=device_discards,
        writer_first=writer_first,
        closed=closed,
        max_steps=max_steps,
    ).run()


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
    sst_bytes_per_entry: float | None = None,
    device_write_bytes_per_sec: float | None = None,
    single_thread_cores: float | None = None,
    device_discards: bool = False,
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
            sst_bytes_per_entry=sst_bytes_per_entry,
            device_write_bytes_per_sec=device_write_bytes_per_sec,
            single_thread_cores=single_thread_cores,
            device_discards=device_discards,
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

"""The embedded target's worker process: opens a RocksDB (rocksdict) and runs the workload.

Run by :class:`~modelyard.targets.embedded.EmbeddedRocksDbTarget` as
``python -m modelyard.targets.embedded.worker DB_DIR INTERVAL_SECONDS`` with the workload spec
as one JSON line on stdin. Every interval it prints one JSON line on stdout: operations and
latencies per kind, the offered rate and the backlog of an open-loop schedule, RocksDB
properties, statistics ticker deltas and the LOG's compaction and flush events of the interval.
It stops cleanly when stdin closes (or at the end of a ``then="stop"`` workload).

A separate process keeps the generator's GIL and CPU apart from the server's, lets the parent
measure its threads from /proc (``rocksdb:low`` compactions, ``rocksdb:high`` flushes), and
makes a crash of the database a target that went down rather than a server that died.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

from modelyard.kit.extras import needs
from modelyard.targets._logtail import LogTail, summarise_events
from modelyard.targets.dbbench import parsers
from modelyard.targets.embedded.workload import Phase, RocksDbOptions, WorkloadSpec

PROPERTIES = {
    "l0_files": "rocksdb.num-files-at-level0",
    "pending_compaction_bytes": "rocksdb.estimate-pending-compaction-bytes",
    "running_compactions": "rocksdb.num-running-compactions",
    "running_flushes": "rocksdb.num-running-flushes",
    "memtable_bytes": "rocksdb.cur-size-all-mem-tables",
    "immutable_memtables": "rocksdb.num-immutable-mem-table",
    "delayed_write_rate": "rocksdb.actual-delayed-write-rate",
    "write_stopped": "rocksdb.is-write-stopped",
}
TICKERS = {
    "user_bytes": "rocksdb.bytes.written",
    "flush_bytes": "rocksdb.flush.write.bytes",
    "compaction_read_bytes": "rocksdb.compact.read.bytes",
    "compaction_write_bytes": "rocksdb.compact.write.bytes",
    "wal_bytes": "rocksdb.wal.bytes",
    "stall_micros": "rocksdb.stall.micros",
    "keys_written": "rocksdb.number.keys.written",
    "keys_read": "rocksdb.number.keys.read",
}
_OPS = ("put", "get", "scan")


def open_db(path: Path, options: RocksDbOptions) -> tuple[Any, Any]:
    with needs("rocksdb"):
        from rocksdict import DBCompressionType, Options, Rdict

    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.set_write_buffer_size(options.write_buffer_size)
    opts.set_max_write_buffer_number(options.max_write_buffer_number)
    opts.set_max_background_jobs(options.max_background_jobs)
    opts.set_level_zero_file_num_compaction_trigger(options.level0_file_num_compaction_trigger)
    opts.set_level_zero_slowdown_writes_trigger(options.level0_slowdown_writes_trigger)
    opts.set_level_zero_stop_writes_trigger(options.level0_stop_writes_trigger)
    opts.set_target_file_size_base(options.target_file_size_base)
    opts.set_max_bytes_for_level_base(options.max_bytes_for_level_base)
    opts.set_compression_type(getattr(DBCompressionType, options.compression)())
    opts.enable_statistics()
    return Rdict(str(path), opts), opts


class _Counters:
    """What the generator did since the last report; swapped out under a lock."""

    def __init__(self) -> None:
        self.ops = dict.fromkeys(_OPS, 0)
        self.bytes_put = 0
        self.latencies: dict[str, list[float]] = {op: [] for op in _OPS}


class Zipfian:
    """YCSB's scrambled Zipfian generator over ``[0, n)``: rank r has weight 1 / (r+1)^theta,
    and ranks are hashed (FNV-1a) so the hot keys are spread over the key space."""

    _EXACT = 1_000_000

    def __init__(self, n: int, theta: float) -> None:
        self.n, self.theta = n, theta
        self.zetan = self._zeta(n, theta)
        zeta2 = 1.0 + 0.5**theta
        self.alpha = 1.0 / (1.0 - theta)
        self.eta = (1.0 - (2.0 / n) ** (1.0 - theta)) / (1.0 - zeta2 / self.zetan) if n > 2 else 1.0
        self.half_pow = 1.0 + 0.5**theta

    @classmethod
    def _zeta(cls, n: int, theta: float) -> float:
        exact = min(n, cls._EXACT)
        total = math.fsum(float(i) ** -theta for i in range(1, exact + 1))
        if n > exact:  # the tail by its integral
            total += (float(n) ** (1.0 - theta) - float(exact) ** (1.0 - theta)) / (1.0 - theta)
        return total

    def next(self, rng: random.Random) -> int:
        u = rng.random()
        uz = u * self.zetan
        if uz < 1.0:
            rank = 0
        elif uz < self.half_pow:
            rank = 1
        else:
            rank = int(self.n * (self.eta * u - self.eta + 1.0) ** self.alpha)
        h = 0xCBF29CE484222325
        for byte in rank.to_bytes(8, "little"):
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        return h % self.n


class Generator:
    def __init__(self, db: Any, spec: WorkloadSpec) -> None:
        from rocksdict import WriteBatch

        self._write_batch = WriteBatch
        self.db = db
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.values = os.urandom(1 << 20) + os.urandom(1 << 20)
        self.lock = threading.Lock()
        self.counters = _Counters()
        self.stop = threading.Event()
        self.phase_index = 0
        self.phase: Phase = spec.phases[0]
        self.started = time.monotonic()
        self.due = self.started
        self.backlog_ops = 0.0
        self.finished = False
        self.pace = threading.Lock()
        self.zipf: dict[tuple[int, float], Zipfian] = {
            (p.key_space, p.zipf_theta): Zipfian(p.key_space, p.zipf_theta)
            for p in spec.phases
            if p.key_distribution == "zipfian"
        }
        self.threads = max(p.threads for p in spec.phases)

    def take(self) -> _Counters:
        with self.lock:
            taken, self.counters = self.counters, _Counters()
        return taken

    def _key(self, phase: Phase, rng: random.Random) -> bytes:
        if phase.key_distribution == "zipfian":
            number = self.zipf[(phase.key_space, phase.zipf_theta)].next(rng)
        else:
            number = rng.randrange(phase.key_space)
        return number.to_bytes(8, "big").rjust(phase.key_size, b"k")

    def _value(self, phase: Phase, rng: random.Random) -> bytes:
        size = phase.value_size
        if phase.value_size_max is not None:
            size = rng.randint(phase.value_size, phase.value_size_max)
        start = rng.randrange(len(self.values) - size) if size else 0
        return self.values[start : start + size]

    def run(self, index: int = 0) -> None:
        """One client thread; thread ``index`` works while the phase has more threads."""
        rng = self.rng if index == 0 else random.Random(self.spec.seed * 7919 + index)
        while not self.stop.is_set():
            found = self.spec.phase_at(time.monotonic() - self.started)
            if found is None:
                self.finished = True
                return
            phase_index, phase = found
            with self.pace:
                if phase_index != self.phase_index:
                    self.phase_index, self.phase = phase_index, phase
                    self.due = time.monotonic()
            if index >= phase.threads:
                self.stop.wait(0.05)
                continue
            self._one_batch(phase, rng)

    def _one_batch(self, phase: Phase, rng: random.Random) -> None:
        n = phase.batch_size
        if phase.rate is not None:
            with self.pace:  # the threads share the phase's rate
                now = time.monotonic()
                wait = self.due - now
                if wait <= 0:
                    self.backlog_ops = max(0.0, (now - self.due) * phase.rate)
                    self.due += n / phase.rate
            if wait > 0:
                time.sleep(min(wait, 0.05))
                return
        else:
            self.backlog_ops = 0.0
        puts = gets = scans = 0
        for _ in range(n):
            r = rng.random()
            if r < phase.put_fraction:
                puts += 1
            elif r < phase.put_fraction + phase.get_fraction:
                gets += 1
            else:
                scans += 1
        latencies: dict[str, list[float]] = {op: [] for op in _OPS}
        put_bytes = 0
        if puts:
            batch = self._write_batch(raw_mode=True)
            for _ in range(puts):
                value = self._value(phase, rng)
                batch.put(self._key(phase, rng), value)
                put_bytes += phase.key_size + len(value)
            t0 = time.perf_counter()
            self.db.write(batch)
            latencies["put"].append((time.perf_counter() - t0) * 1e6)
        for _ in range(gets):
            t0 = time.perf_counter()
            self.db.get(self._key(phase, rng))
            latencies["get"].append((time.perf_counter() - t0) * 1e6)
        for _ in range(scans):
            t0 = time.perf_counter()
            it = self.db.iter()
            it.seek(self._key(phase, rng))
            for _ in range(phase.scan_length):
                if not it.valid():
                    break
                it.next()
            latencies["scan"].append((time.perf_counter() - t0) * 1e6)
        with self.lock:
            c = self.counters
            c.ops["put"] += puts
            c.ops["get"] += gets
            c.ops["scan"] += scans
            c.bytes_put += put_bytes
            for op in _OPS:
                c.latencies[op].extend(latencies[op])


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Reporter:
    def __init__(self, db: Any, opts: Any, generator: Generator, db_dir: Path) -> None:
        self.db = db
        self.opts = opts
        self.generator = generator
        self.log = LogTail(db_dir / "LOG")
        self.tickers = self._tickers()
        self.last = time.monotonic()
        self.pending_starts: dict[int, float] = {}
        self.stalls = 0

    def _tickers(self) -> dict[str, int]:
        stats = parsers.parse_statistics(self.opts.get_statistics() or "")
        return {name: stats.tickers.get(ticker, 0) for name, ticker in TICKERS.items()}

    def report(self) -> dict[str, Any]:
        now = time.monotonic()
        seconds = max(now - self.last, 1e-6)
        self.last = now
        counters = self.generator.take()
        tickers = self._tickers()
        deltas = {k: tickers[k] - self.tickers.get(k, 0) for k in tickers}
        self.tickers = tickers
        properties: dict[str, float | None] = {}
        for name, prop in PROPERTIES.items():
            try:
                value = self.db.property_int_value(prop)
            except Exception:  # a property this RocksDB build does not know
                value = None
            properties[name] = float(value) if value is not None else None
        evidence = summarise_events(self.log.read(), self.pending_starts)
        try:
            db_stats = parsers.parse_db_stats(self.db.property_value("rocksdb.stats") or "")
            counts = db_stats.stall_counts
            stalls = counts.get("total-delays", 0) + counts.get("total-stops", 0)
        except Exception:  # the stats text of another RocksDB version
            stalls = 0
        stall_delta, self.stalls = stalls - self.stalls, stalls
        phase = self.generator.phase
        latencies = {
            f"{q}.{op}": _percentile(counters.latencies[op], p)
            for op in _OPS
            for q, p in (("p50", 0.5), ("p99", 0.99))
        }
        return {
            "t": time.time(),
            "seconds": seconds,
            "phase_index": self.generator.phase_index,
            "phase": phase.model_dump(),
            "ops": counters.ops,
            "bytes_put": counters.bytes_put,
            "latency_us": latencies,
            "offered_ops_per_sec": phase.rate,
            "backlog_ops": self.generator.backlog_ops,
            "properties": properties,
            "tickers": deltas,
            "stall_count": stall_delta,
            "evidence": evidence,
            "finished": self.generator.finished,
        }


def main(argv: list[str]) -> int:
    db_dir = Path(argv[1])
    interval = float(argv[2]) if len(argv) > 2 else 1.0
    spec = WorkloadSpec.model_validate_json(sys.stdin.readline())
    db_dir.mkdir(parents=True, exist_ok=True)
    db, opts = open_db(db_dir, spec.options)
    generator = Generator(db, spec)
    reporter = Reporter(db, opts, generator, db_dir)
    threads = [
        threading.Thread(target=generator.run, args=(i,), name=f"workload-{i}", daemon=True)
        for i in range(generator.threads)
    ]
    for thread in threads:
        thread.start()

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the parent closes the pipe
        generator.stop.set()

    threading.Thread(target=watch_stdin, name="stdin", daemon=True).start()
    out = sys.stdout
    try:
        next_at = time.monotonic() + interval
        while not generator.stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            if generator.stop.is_set():
                break
            out.write(json.dumps(reporter.report()) + "\n")
            out.flush()
            if generator.finished:
                break
    finally:
        generator.stop.set()
        for thread in threads:
            thread.join(timeout=10)
        db.close()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    raise SystemExit(main(sys.argv))

"""Why calibration costs move: repeat db_bench runs and print the per-put costs each one gives.

Every run is one db_bench fillrandom on a fresh database under `--nice` (default -10), with the
load average, the CPU the run had (cores available, steal, other processes) and two short CPU
speed references taken just before it (a Python loop and a random memory gather, both in CPU
time, so they measure how fast a CPU-second is, not how many of them one gets). Printed per run:

- writer CPU per put: the `db_bench` threads' CPU (schedstat) / puts, and the old residual
  (process CPU minus compaction events' CPU minus the flush thread's) / puts;
- flush CPU per flushed entry (`rocksdb:high`), compaction CPU per record (events), write amp.

    .venv/bin/python bench/smax_noise.py --plan repeat --out bench/out/smax/noise.jsonl

The plans vary one thing at a time around the old calibration's first run (128 B values, 6 MiB
memtables, no compression): repetitions, run length, rate-limited against closed, memtable size,
key space, value size, writer threads, CPU budget (taskset to one core).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.perfmodels import parse_db_bench_args
from modelyard.targets.dbbench.calibrate import compaction_samples
from modelyard.targets.dbbench.runner import DbBenchRun, run_db_bench

BASE = (
    "--benchmarks=fillrandom --num=4000000 --value_size=128 --write_buffer_size=6291456 "
    "--compression_type=none --seed=7"
)

PLANS: dict[str, list[tuple[str, str]]] = {
    # label, extra args (appended to BASE; later flags win)
    "repeat": [
        ("closed-12s", "--duration=12"),
        ("closed-40s", "--duration=40"),
        ("rate40k-20s", "--duration=20 --benchmark_write_rate_limit=5760000"),
        ("closed-12s", "--duration=12"),
        ("wb64-20s", "--duration=20 --write_buffer_size=67108864"),
        ("wb2-20s", "--duration=20 --write_buffer_size=2097152"),
        ("num1e9-20s", "--duration=20 --num=1000000000"),
        ("v1500-20s", "--duration=20 --value_size=1500 --num=600000"),
        ("closed-40s", "--duration=40"),
        ("rate40k-20s", "--duration=20 --benchmark_write_rate_limit=5760000"),
        ("t2-20s", "--duration=20 --threads=2"),
        ("closed-12s", "--duration=12"),
        ("rate80k-20s", "--duration=20 --benchmark_write_rate_limit=11520000"),
        ("wb64-20s", "--duration=20 --write_buffer_size=67108864"),
        ("wb2-20s", "--duration=20 --write_buffer_size=2097152"),
    ],
    "onecore": [
        ("1core-closed-20s", "--duration=20"),
        ("1core-rate20k-20s", "--duration=20 --benchmark_write_rate_limit=2880000"),
        ("1core-closed-20s", "--duration=20"),
    ],
}


def speed_reference() -> dict[str, float]:
    """CPU time of a fixed Python loop and of a random gather over 64 MiB (ns per step)."""
    t0 = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i ^ (i >> 3)
    loop_ns = (time.process_time() - t0) / 2_000_000 * 1e9
    data = np.arange(8 * 2**20, dtype=np.int64)
    index = np.random.default_rng(1).integers(0, data.size, 4_000_000)
    t0 = time.process_time()
    data[index].sum()
    gather_ns = (time.process_time() - t0) / index.size * 1e9
    return {"loop_ns": loop_ns, "gather_ns": gather_ns}


def summarise(run: DbBenchRun) -> dict[str, Any]:
    ops = run.operations or 1.0
    threads = run.cpu.thread_cpu_sec
    comp = compaction_samples(run.events)
    comp_cpu = sum(s[2] for s in comp)
    comp_records = sum(s[0] for s in comp)
    comp_bytes = sum(s[1] for s in comp)
    flushed = sum(
        float(e.get("num_entries", 0)) for e in run.events if e.get("event") == "flush_started"
    )
    tickers = run.statistics.tickers
    ingest = float(tickers.get("rocksdb.bytes.written", 0)) or 1.0
    writes = float(tickers.get("rocksdb.flush.write.bytes", 0)) + float(
        tickers.get("rocksdb.compact.write.bytes", 0)
    )
    stall = float(tickers.get("rocksdb.stall.micros", 0)) / 1e6
    seconds = run.summary["seconds"] if run.summary else run.wall_sec
    return {
        "ops": ops,
        "seconds": seconds,
        "ops_per_sec": run.ops_per_sec,
        "writer_us_per_put": threads.get("db_bench", 0.0) / ops * 1e6,
        "writer_wait_us_per_put": run.cpu.thread_wait_sec.get("db_bench", 0.0) / ops * 1e6,
        "residual_us_per_put": max(
            run.cpu_sec_total - comp_cpu - threads.get("rocksdb:high", 0.0), 0
        )
        / ops
        * 1e6,
        "flush_us_per_entry": threads.get("rocksdb:high", 0.0) / flushed * 1e6 if flushed else None,
        "compaction_ns_per_record": comp_cpu / comp_records * 1e9 if comp_records else None,
        "compaction_ns_per_byte": comp_cpu / comp_bytes * 1e9 if comp_bytes else None,
        "compaction_thread_cpu_sec": threads.get("rocksdb:low", 0.0),
        "compaction_event_cpu_sec": comp_cpu,
        "compactions": len(comp),
        "write_amp": writes / ingest,
        "stall_sec": stall,
        "process_cpu_sec": run.cpu_sec_total,
        "thread_cpu_sec": threads,
        "available_cores": run.cpu.available_cores,
        "own_cores": run.cpu.own_cores,
        "other_cores": run.cpu.other_cores,
        "steal_fraction": run.cpu.steal_fraction,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=sorted(PLANS), default="repeat")
    parser.add_argument("--out", type=Path, default=Path("bench/out/smax/noise.jsonl"))
    parser.add_argument("--nice", type=int, default=-10)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cpus", default=None, help="taskset CPU list for db_bench, e.g. 1")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for label, extra in PLANS[args.plan]:
        config = parse_db_bench_args(f"{BASE} {extra}")
        speed = speed_reference()
        load = os.getloadavg()
        run = run_db_bench(config, workdir=args.workdir, nice=args.nice, cpus=args.cpus)
        row = {
            "label": label,
            "args": " ".join(config.to_args()),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg": load,
            "cpus": args.cpus,
            **speed,
            **summarise(run),
        }
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(
            f"{label:>18} {row['ops_per_sec']:>9,.0f}/s writer {row['writer_us_per_put']:.2f} "
            f"(resid {row['residual_us_per_put']:.2f}) us/put flush "
            f"{row['flush_us_per_entry'] or 0:.2f} us/entry comp "
            f"{row['compaction_ns_per_record'] or 0:.0f} ns/rec WA {row['write_amp']:.2f} "
            f"avail {row['available_cores']:.2f} steal {row['steal_fraction']:.0%} "
            f"other {row['other_cores']:.2f} load {load[0]:.1f} loop {speed['loop_ns']:.1f} "
            f"gather {speed['gather_ns']:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

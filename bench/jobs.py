"""Job system throughput and latency, on the embedded default and on Redis.

For each backend, a real ``modelyard serve`` (and, on Redis, a separate ``modelyard worker``
process: the scaled-out shape) on a fresh home, then:

1. enqueue: 2,000 no-op jobs (``sleep`` with no sleep and no progress) submitted by this
   process through ``jobs.service.submit``, one transaction each, before any worker runs;
   the peer is bare Huey: as many messages on the same storage, no database, no job row.
   Then the server starts and drains them (the drain rate), and 2,000 more are submitted
   while it runs: enqueue rate under load, and queue-to-start latency
   (``started_at - created_at``) p50/p99, which under a burst is mostly waiting in line.
2. pickup: 200 no-op jobs posted to ``POST /api/jobs`` at a steady 40/s (the queue never
   backs up): queue-to-start p50/p99 is the pickup latency.
3. progress: an SSE client on ``GET /api/jobs/events``; 200 jobs that report progress 50
   times each (``sleep`` 0.25 s in 50 steps). Printed: progress-to-client latency p50/p99,
   the time from ``ctx.progress()`` (the event's ``updated_at``) to the line arriving.

Targets: >= 500 jobs/s through the embedded queue; progress-to-client p99 <= 200 ms.

    .venv/bin/python bench/jobs.py                 # both backends
    .venv/bin/python bench/jobs.py --backends sqlite --noop 500 --progress-jobs 50
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import VENV_BIN, Server, start_modelyard, summarise

import modelyard.jobs.tasks  # noqa: F401  (the built-in sleep kind)
from modelyard.config import JobSettings, Settings
from modelyard.jobs import service
from modelyard.jobs.queue import create_huey
from modelyard.jobs.runtime import JobRuntime
from modelyard.kit import migrate
from modelyard.kit.db import Database

TERMINAL = ("succeeded", "failed", "cancelled")


def _settings(
    home: Path, database_url: str, backend: str, queue: str, redis_url: str | None
) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        redis_url=redis_url if backend == "redis" else None,
        jobs=JobSettings(backend=backend, queue_name=queue, workers=0),
    )


def _wait_all_done(db: Database, queue: str, count: int, timeout: float) -> None:
    import sqlalchemy as sa

    from modelyard.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as session:
            done = session.scalar(
                sa.select(sa.func.count())
                .select_from(Job)
                .where(Job.queue == queue, Job.status.in_(TERMINAL))
            )
        if (done or 0) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"only {done} of {count} jobs ended within {timeout:.0f} s")


def _start_latencies(db: Database, ids: list[int]) -> list[float]:
    import sqlalchemy as sa

    from modelyard.models import Job

    with db.session() as session:
        rows = session.execute(
            sa.select(Job.created_at, Job.started_at, Job.finished_at, Job.status).where(
                Job.id.in_(ids)
            )
        ).all()
    bad = [r.status for r in rows if r.status != "succeeded"]
    if bad:
        raise RuntimeError(f"{len(bad)} jobs did not succeed: {bad[:5]}")
    return [(r.started_at - r.created_at).total_seconds() for r in rows]


WINDOW = 250


def submit_noops(
    settings: Settings, db: Database, count: int
) -> tuple[list[int], dict[str, float]]:
    """``count`` no-op jobs, one transaction each, from this process: the ids, and the rate
    overall and in the fastest window of ``WINDOW`` jobs (the one least disturbed by other
    work on a shared machine)."""
    runtime = JobRuntime(settings, db)  # submits only: no workers, no reaper
    try:
        ids: list[int] = []
        stamps = [time.perf_counter()]
        for _ in range(count):
            with db.session() as session:
                job = service.submit(
                    session, runtime, kind="sleep", params={"seconds": 0, "steps": 0}
                )
            ids.append(job.id)
            stamps.append(time.perf_counter())
    finally:
        runtime.stop(grace_seconds=0)
    step = max(WINDOW // 5, 1)
    windows = [
        WINDOW / (stamps[i + WINDOW] - stamps[i]) for i in range(0, len(stamps) - WINDOW, step)
    ]
    overall = count / (stamps[-1] - stamps[0])
    return ids, {"overall": overall, "best": max(windows, default=overall)}


def _run_span(db: Database, ids: list[int]) -> float:
    import sqlalchemy as sa

    from modelyard.models import Job

    with db.session() as session:
        first, last = session.execute(
            sa.select(sa.func.min(Job.started_at), sa.func.max(Job.finished_at)).where(
                Job.id.in_(ids)
            )
        ).one()
    return float((last - first).total_seconds())


def bench_drain(db: Database, queue: str, ids: list[int]) -> dict[str, Any]:
    """The jobs queued before the server started: how fast do its workers empty the queue?"""
    _wait_all_done(db, queue, len(ids), timeout=600)
    return {"drain_per_s": len(ids) / _run_span(db, ids)}


def bench_concurrent(
    settings: Settings, db: Database, count: int, done_before: int
) -> dict[str, Any]:
    """Submit while the workers drain: enqueue rate under load, queue-to-start of a burst."""
    ids, rate = submit_noops(settings, db, count)
    _wait_all_done(db, settings.jobs.queue_name, done_before + count, timeout=600)
    return {"enqueue": rate, "start": summarise(_start_latencies(db, ids))}


def bench_bare_huey(settings: Settings, count: int) -> float:
    """Peer: Huey alone, the same storage, no database and no job row."""
    peer = settings.model_copy(
        update={
            "jobs": settings.jobs.model_copy(
                update={"queue_name": settings.jobs.queue_name + "_peer"}
            )
        }
    )
    huey = create_huey(peer)

    @huey.task(name="noop")
    def noop(i: int) -> None:  # pragma: no cover - never executed
        return None

    start = time.perf_counter()
    for i in range(count):
        noop(i)
    seconds = time.perf_counter() - start
    huey.storage.flush_queue()
    huey.storage.close()
    return count / seconds


def bench_pickup(server: Server, db: Database, count: int, rate: float) -> dict[str, Any]:
    ids: list[int] = []
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as client:
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            r = client.post(
                "/api/jobs", json={"kind": "sleep", "params": {"seconds": 0, "steps": 0}}
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
    deadline = time.monotonic() + 120
    while True:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as client:
            last = client.get(f"/api/jobs/{ids[-1]}").json()
        if last["status"] in TERMINAL or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return {"start": summarise(_start_latencies(db, ids))}


class SseClient(threading.Thread):
    """Reads ``/api/jobs/events`` and records, per progress event, arrival minus report time."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.latencies: list[float] = []
        self.finished: set[int] = set()
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(60, read=60)) as client,
            client.stream(
                "GET", self.server.url + "/api/jobs/events", headers=self.server.headers()
            ) as response,
        ):
            self.connected.set()
            event_id = None
            for line in response.iter_lines():
                arrived = time.time()
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    job = orjson.loads(line[6:])
                    if (
                        job["status"] == "running"
                        and job["progress"]["fraction"] is not None
                        and event_id
                    ):
                        self.latencies.append(arrived - event_id / 1e6)
                    elif job["status"] in TERMINAL:
                        self.finished.add(job["id"])
                if self.stop.is_set():
                    return


def bench_progress(server: Server, jobs: int, steps: int, seconds: float) -> dict[str, Any]:
    listener = SseClient(server)
    listener.start()
    if not listener.connected.wait(30):
        raise RuntimeError("the SSE client did not connect")
    time.sleep(0.3)
    ids = []
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as client:
        for _ in range(jobs):
            r = client.post(
                "/api/jobs", json={"kind": "sleep", "params": {"seconds": seconds, "steps": steps}}
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
    deadline = time.monotonic() + 600
    while not set(ids) <= listener.finished and time.monotonic() < deadline:
        time.sleep(0.1)
    listener.stop.set()
    return {
        "events": len(listener.latencies),
        "expected": jobs * steps,
        "latency": summarise(listener.latencies),
    }


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    queue = f"bench_{backend}_{uuid.uuid4().hex[:8]}"
    env = {
        "MODELYARD_JOBS__BACKEND": backend,
        "MODELYARD_JOBS__QUEUE_NAME": queue,
        "MODELYARD_JOBS__WORKERS": str(args.workers if backend == "sqlite" else 0),
    }
    if backend == "redis":
        env["MODELYARD_REDIS_URL"] = args.redis_url
    else:
        os.environ.pop("MODELYARD_REDIS_URL", None)
    home = Path(tempfile.mkdtemp(prefix="modelyard-bench-jobs-"))
    database_url = f"sqlite:///{home / 'modelyard.db'}"
    migrate.upgrade(database_url)
    db = Database(database_url)
    settings = _settings(home, database_url, backend, queue, args.redis_url)
    server: Server | None = None
    worker: Server | None = None
    try:
        result: dict[str, Any] = {"backend": backend}
        result["bare_huey_per_s"] = bench_bare_huey(settings, args.noop)
        # 1. the queue alone: no worker running yet
        queued_ids, result["enqueue"] = submit_noops(settings, db, args.noop)
        # 2. start the server (and worker): it drains what is queued
        server = start_modelyard(home, env=env)
        if backend == "redis":
            worker_env = {
                "MODELYARD_HOME": str(home),
                "MODELYARD_DATABASE_URL": database_url,
                **env,
            }
            worker = _start_worker(worker_env, args.workers, home)
        result["drain"] = bench_drain(db, queue, queued_ids)
        # 3. submit while it runs
        result["concurrent"] = bench_concurrent(settings, db, args.noop, done_before=args.noop)
        result["pickup"] = bench_pickup(server, db, args.pickup, args.pickup_rate)
        result["progress"] = bench_progress(
            server, args.progress_jobs, args.steps, args.progress_seconds
        )
        return result
    finally:
        db.dispose()
        if worker is not None:
            worker.stop()
        if server is not None:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)
        if backend == "redis":
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in client.scan_iter(match=f"huey.*.{queue}*"):
                client.delete(key)
            client.close()


def _start_worker(env: dict[str, str], concurrency: int, home: Path) -> Server:
    """``modelyard worker`` has no HTTP port; it is ready once it has printed its banner."""
    import subprocess

    log_path = home / "worker.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "modelyard"), "worker", "--concurrency", str(concurrency)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        start_new_session=True,
    )
    worker = Server("worker", process, "", log_path, _log=log)
    deadline = time.monotonic() + 120
    while b"modelyard worker" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"the worker did not start:\n{worker.log_tail()}")
        time.sleep(0.1)
    return worker


def _ms(summary: dict[str, float]) -> str:
    return f"p50 {summary['p50_ms']:7.1f} ms  p99 {summary['p99_ms']:7.1f} ms"


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work shares these cores)")
    print(
        f"jobs bench: {args.noop} no-op jobs, {args.pickup} paced at {args.pickup_rate:g}/s, "
        f"{args.progress_jobs} jobs x {args.steps} progress reports; {args.workers} workers"
    )
    for r in results:
        shape = (
            "serve (embedded workers)" if r["backend"] == "sqlite" else "serve + modelyard worker"
        )
        c, p, g = r["concurrent"], r["pickup"], r["progress"]
        print(f"\n[{r['backend']}] {shape}")
        e, ce, huey = r["enqueue"], c["enqueue"], r["bare_huey_per_s"]
        print(
            f"  enqueue        {e['overall']:8.0f} jobs/s   (no worker running; best {WINDOW}: "
            f"{e['best']:.0f}/s; bare Huey {huey:.0f}/s: x{e['overall'] / huey:.2f})"
        )
        print(
            f"  enqueue        {ce['overall']:8.0f} jobs/s   (while the workers drain; "
            f"best {WINDOW}: {ce['best']:.0f}/s)"
        )
        print(
            f"  drain          {r['drain']['drain_per_s']:8.0f} jobs/s   ({args.workers} workers, no-op jobs)"
        )
        print(
            f"  queue-to-start {_ms(c['start'])}   (burst of {args.noop} while draining: mostly waiting)"
        )
        print(
            f"  queue-to-start {_ms(p['start'])}   (paced {args.pickup_rate:g}/s via the API: pickup)"
        )
        print(
            f"  progress->SSE  {_ms(g['latency'])}   ({g['events']}/{g['expected']} progress events)"
        )
    embedded = next((r for r in results if r["backend"] == "sqlite"), None)
    print()
    if embedded:
        rate = embedded["enqueue"]["overall"]
        verdict = "met" if rate >= 500 else "NOT met"
        print(f"target enqueue >= 500 jobs/s (embedded, overall): {rate:.0f} -> {verdict}")
    for r in results:
        p99 = r["progress"]["latency"]["p99_ms"]
        print(
            f"target progress p99 <= 200 ms ({r['backend']}): {p99:.1f} -> {'met' if p99 <= 200 else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("MODELYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--noop", type=int, default=2000)
    parser.add_argument("--pickup", type=int, default=200)
    parser.add_argument("--pickup-rate", type=float, default=40.0)
    parser.add_argument("--progress-jobs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--progress-seconds", type=float, default=0.25)
    args = parser.parse_args()
    results = [run_backend(b.strip(), args) for b in args.backends.split(",") if b.strip()]
    report(results, args)


if __name__ == "__main__":
    main()

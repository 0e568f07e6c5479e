"""Push-ingest benchmark: metric points per second through POST /api/targets/{id}/metrics into
the time-series store, and how long a written point takes to become queryable.

It starts `modelyard serve` on a free 127.0.0.1 port with a fresh home (SQLite by default, or
--database-url), creates a push target (not followed by the live loop, so only ingestion is
measured), and runs for a bounded time:

- writers: threads posting batches of samples (`--samples` x `--metrics` points each);
- a reader: polls GET /api/targets/{id}/metrics for a probe series every 50 ms; a point's
  write-to-queryable latency is from the moment its batch was sent to the moment a query
  returned it.

The peer, measured in the same run on the same machine, is the store's own ceiling: raw
sqlite3 `executemany` of the same rows into a table of the same schema (no HTTP, no JSON, no
validation). Prints figures and the ratio. Stops everything it started, by PID.

On PostgreSQL (--database-url, an empty database) it then also calls the store directly, with
the same batch size, alternating its COPY path and a multi-row INSERT batch by batch.

    .venv/bin/python bench/ingest.py --seconds 15
    .venv/bin/python bench/ingest.py --seconds 15 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(home: Path, url: str) -> str:
    """Migrate, create an editor and a token; returns the token."""
    os.environ["MODELYARD_HOME"] = str(home)
    os.environ["MODELYARD_DATABASE_URL"] = url
    from modelyard.auth import service as auth_service
    from modelyard.auth.schemas import Role, UserCreate
    from modelyard.kit import migrate
    from modelyard.kit.db import Database

    migrate.upgrade(url)
    db = Database(url)
    with db.session() as s:
        user = auth_service.create_user(
            s, UserCreate(name="bench", password="password-123", role=Role.editor), actor="bench"
        )
        token = auth_service.create_token(
            s, user, lifetime=dt.timedelta(hours=2), actor="bench"
        ).token
    db.dispose()
    return token


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def peer_sqlite(rows: int, directory: Path) -> float:
    """Raw sqlite3 executemany into the same schema, same pragmas: points per second."""
    conn = sqlite3.connect(directory / "peer.db")
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(
        "CREATE TABLE metric_points (series_id INTEGER NOT NULL, ts_ms BIGINT NOT NULL, value FLOAT NOT NULL,"
        " PRIMARY KEY (series_id, ts_ms)) WITHOUT ROWID"
    )
    batch = 5000
    t0 = int(time.time() * 1000)
    started = time.perf_counter()
    done = 0
    while done < rows:
        chunk = [(i % 25, t0 + i // 25, float(i)) for i in range(done, min(rows, done + batch))]
        with conn:
            conn.executemany("INSERT OR REPLACE INTO metric_points VALUES (?, ?, ?)", chunk)
        done += len(chunk)
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def store_paths(url: str, batches: int, batch_points: int) -> dict[str, float]:
    """PostgreSQL only: MetricStore.write called directly (no HTTP, no JSON) with batches of
    ``batch_points``, COPY and multi-row INSERT alternating batch by batch so that both see the
    same machine load: points per second of each."""
    from modelyard.kit.db import Database
    from modelyard.monitoring import store as store_module

    db = Database(url)
    stores = {
        "copy": store_module.MetricStore(db.engine, copy=True),
        "insert": store_module.MetricStore(db.engine, copy=False),
    }
    metrics = 25
    names = [f"m{i:02d}" for i in range(metrics)]
    per_batch = max(1, batch_points // metrics)
    seconds = {"copy": 0.0, "insert": 0.0}
    points = {"copy": 0, "insert": 0}
    t0 = int(time.time() * 1000) - 3_600_000
    try:
        for i in range(2 * batches):
            path = "copy" if i % 2 == 0 else "insert"
            first = t0 + i * per_batch
            samples = [(first + j, {n: float(j) for n in names}) for j in range(per_batch)]
            started = time.perf_counter()
            points[path] += stores[path].write(f"target:bench-{path}", samples)
            seconds[path] += time.perf_counter() - started
    finally:
        db.dispose()
    return {path: points[path] / seconds[path] for path in seconds}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=400, help="samples per batch")
    parser.add_argument("--metrics", type=int, default=25, help="metrics per sample")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary home")
    parser.add_argument(
        "--store-batches",
        type=int,
        default=20,
        help="PostgreSQL: batches per path for the direct COPY vs INSERT comparison",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="modelyard-bench-ingest-"))
    url = args.database_url or f"sqlite:///{tmp / 'modelyard.db'}"
    token = prepare(tmp, url)
    port = free_port()
    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp),
        "MODELYARD_DATABASE_URL": url,
        "MODELYARD_JOBS__WORKERS": "0",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "modelyard"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/api"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print(
                    "the server did not start:",
                    server.stderr.read().decode()[-2000:] if server.stderr else "",
                )
                return 1
            time.sleep(0.2)
        created = httpx.post(
            f"{base}/targets",
            headers=headers,
            json={"name": "bench", "kind": "push", "start": False},
        )
        created.raise_for_status()

        names = [f"metric_{i:02d}" for i in range(args.metrics - 1)]
        sent_at: dict[int, float] = {}
        sent_lock = threading.Lock()
        request_seconds: list[float] = []
        points = [0]
        stop = threading.Event()
        clock = [int(time.time() * 1000) - 30 * 60_000]  # unique timestamps: one per sample
        clock_lock = threading.Lock()

        def writer() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    with clock_lock:
                        first = clock[0]
                        clock[0] += args.samples
                    samples = [
                        {"t": (first + i) / 1000, "metrics": {n: float(i) for n in names}}
                        for i in range(args.samples)
                    ]
                    probe_ts = first + args.samples - 1
                    samples[-1]["metrics"]["probe"] = 1.0
                    body = orjson.dumps({"samples": samples})
                    started = time.perf_counter()
                    with sent_lock:
                        sent_at[probe_ts] = started
                    response = client.post(
                        f"{base}/targets/bench/metrics", content=body, headers=headers
                    )
                    response.raise_for_status()
                    request_seconds.append(time.perf_counter() - started)
                    with sent_lock:
                        points[0] += response.json()["accepted_points"]

        visible: list[float] = []
        stopped = [0.0]

        def reader() -> None:
            # ask from the oldest probe not seen yet: a later batch can commit first
            with httpx.Client(timeout=30) as client:
                while not stop.is_set() or sent_at:
                    with sent_lock:
                        low = min(sent_at) if sent_at else None
                    if low is None:
                        time.sleep(0.05)
                        continue
                    response = client.get(
                        f"{base}/targets/bench/metrics",
                        params={
                            "name": "probe",
                            "from": f"{low / 1000:.3f}",
                            "to": "now",
                            "step": "raw",
                        },
                        headers=headers,
                    )
                    now = time.perf_counter()
                    if response.status_code == 200:
                        for ts in response.json()["series"].get("probe", {}).get("t", []):
                            with sent_lock:
                                started = sent_at.pop(int(ts), None)
                            if started is not None:
                                visible.append(now - started)
                    if stop.is_set() and time.perf_counter() - stopped[0] > 30:
                        return
                    time.sleep(0.05)

        threads = [threading.Thread(target=writer) for _ in range(args.writers)]
        threads.append(threading.Thread(target=reader))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stopped[0] = time.perf_counter()
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    rate = points[0] / elapsed
    peer = peer_sqlite(max(points[0], 100_000), tmp)
    print(
        f"database: {url.split(':', 1)[0]}; {args.writers} writers x {args.samples} samples x {args.metrics} metrics per request; {elapsed:.1f} s"
    )
    print(
        f"ingested points: {points[0]:,} -> {rate:,.0f} points/s through POST /api/targets/{{id}}/metrics"
    )
    print(
        f"request latency: p50 {percentile(request_seconds, 0.5) * 1000:.0f} ms, p99 {percentile(request_seconds, 0.99) * 1000:.0f} ms ({len(request_seconds)} requests)"
    )
    if visible:
        print(
            f"write-to-queryable: p50 {percentile(visible, 0.5) * 1000:.0f} ms, p99 {percentile(visible, 0.99) * 1000:.0f} ms, max {max(visible) * 1000:.0f} ms ({len(visible)} probes)"
        )
    print(
        f"peer (raw sqlite3 executemany, same schema): {peer:,.0f} points/s; HTTP path / peer = {rate / peer:.2f}"
    )
    if url.startswith("postgresql"):
        direct = store_paths(url, args.store_batches, args.samples * args.metrics)
        print(
            f"store.write direct, {args.samples * args.metrics:,}-point batches alternating: "
            f"COPY {direct['copy']:,.0f} points/s, multi-row INSERT {direct['insert']:,.0f} "
            f"points/s; COPY / INSERT = {direct['copy'] / direct['insert']:.2f}"
        )
    print(
        f"target: >= 50,000 points/s and write-to-queryable p99 <= 1 s -> "
        f"{'met' if rate >= 50_000 and visible and percentile(visible, 0.99) <= 1.0 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

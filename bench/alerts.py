"""What the alert evaluator costs the server: one tick (read the rules, sample psutil, the
request histogram and the job queue, compare, look up open events, refresh the gauges) on the
seeded default rules, on SQLite and PostgreSQL.

Also a tick that fires and one that resolves (the write path: insert with the open key,
queue a delivery, resolve), and one webhook delivery to a local receiver. The ratio printed
is the share of one core the loop takes at the default 15 s interval.

    .venv/bin/python bench/alerts.py
    .venv/bin/python bench/alerts.py --ticks 500 --pg postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import summarise

from modelyard.alerts import service
from modelyard.alerts.evaluator import Evaluator
from modelyard.alerts.schemas import ChannelCreate, RuleCreate, RuleUpdate
from modelyard.config import Settings
from modelyard.kit import migrate
from modelyard.kit.db import Database


class _Quiet(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def run(label: str, url: str, home: Path, ticks: int) -> None:
    migrate.upgrade(url)
    settings = Settings(home=home, database_url=url)
    settings.webhooks.hosts = ["127.0.0.1"]  # the local receiver ('*' is public hosts only)
    db = Database(url)
    evaluator = Evaluator(db, settings)
    evaluator.tick()  # CPU and latency baselines
    steady = []
    for _ in range(ticks):
        started = time.perf_counter()
        evaluator.tick()
        steady.append(time.perf_counter() - started)

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with db.session() as session:
        service.create_channel(
            session,
            ChannelCreate(name="bench", url=f"http://127.0.0.1:{receiver.server_address[1]}/"),
            "bench",
            settings.webhooks.hosts,
        )
        rule = service.create_rule(
            session, RuleCreate(name="bench-mem", metric="memory_percent", threshold=0.0), "bench"
        )
    flips = []
    for i in range(max(ticks // 10, 10)):
        with db.session() as session:
            service.update_rule(
                session, rule["id"], RuleUpdate(threshold=0.0 if i % 2 == 0 else 101.0), "bench"
            )
        started = time.perf_counter()
        result = evaluator.tick()
        flips.append(time.perf_counter() - started)
        assert result.fired if i % 2 == 0 else result.resolved, result
        assert result.delivered == 1, result
    receiver.shutdown()
    db.dispose()

    s, f = summarise(steady), summarise(flips)
    print(
        f"{label:8} steady tick p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} ms  "
        f"({s['p50_ms'] / 10 / settings.alerts.interval_seconds:.4f}% of a core at "
        f"{settings.alerts.interval_seconds:g} s)  |  fire or resolve + one webhook "
        f"p50 {f['p50_ms']:6.2f} ms  p99 {f['p99_ms']:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelyard-bench-alerts-"))
    try:
        run("sqlite", f"sqlite:///{home / 'modelyard.db'}", home, args.ticks)
        name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            print(f"postgres skipped: {exc.__class__.__name__}")
            return
        try:
            run("postgres", args.pg.rsplit("/", 1)[0] + f"/{name}", home, args.ticks)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

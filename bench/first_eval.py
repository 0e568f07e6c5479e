"""The first scikit-learn evaluation of a fresh ``modelyard worker``: with and without the
background warm-up of the evaluation imports (``--warm``, the default, vs ``--no-warm``).

Starts ``modelyard serve`` (random 127.0.0.1 port, temporary home, SQLite, no embedded job
workers), uploads a Parquet dataset and a scikit-learn HistGradientBoostingRegressor saved with
skops, then for each round starts one worker in each mode in turn, lets it sit idle for
``--idle`` seconds (a worker usually waits a while for its first job), submits one evaluation
and times it from submit to ``succeeded``. Prints per run: that wall time, the model load time
the job records, the worker's idle RSS just before the submit, and the medians per mode with
their ratio. Everything it starts is stopped by PID.

    .venv/bin/python bench/first_eval.py                  # 2 rounds, 45 s idle, 200,000 rows
    .venv/bin/python bench/first_eval.py --rounds 3 --idle 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from evaluate import evaluate, free_port, generate, sklearn_model, stop, timed_upload, wait_healthy

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.kit import migrate
from modelyard.kit.db import Database

MIB = 1 << 20


def token_for(url: str) -> str:
    migrate.upgrade(url)
    database = Database(url)
    try:
        with database.session() as session:
            user = auth_service.create_user(
                session, UserCreate(name="bench", role=Role.editor), actor="bench"
            )
            return auth_service.create_token(
                session, user, lifetime=dt.timedelta(days=1), actor="bench"
            ).token
    finally:
        database.dispose()


def one_run(
    client: httpx.Client,
    env: dict[str, str],
    mode: str,
    idle: float,
    dataset_id: int,
    log: Path,
    deadline: float,
) -> dict[str, Any]:
    bin_dir = Path(sys.executable).parent
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(bin_dir / "modelyard"), "worker", "--concurrency", "1", mode],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(idle)
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited: {log.read_text()[-2000:]}")
        idle_rss = psutil.Process(worker.pid).memory_info().rss / MIB
        body = {"model": "bench-sklearn", "dataset": dataset_id, "target": "y"}
        result = evaluate(client, body, deadline)
    finally:
        stop(worker)
    queued = (
        dt.datetime.fromisoformat(result["started_at"])
        - dt.datetime.fromisoformat(result["created_at"])
    ).total_seconds()
    return {
        "mode": mode,
        "wall_s": result["wall_s"],
        "load_s": float(result["details"].get("load_seconds", float("nan"))),
        "queued_s": queued,
        "idle_rss_mb": idle_rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle", type=float, default=45.0, help="Seconds a worker waits first.")
    parser.add_argument("--timeout", type=float, default=1500.0, help="Seconds for the whole run.")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-first-"))
    home = work / "home"
    home.mkdir()
    url_db = f"sqlite:///{home / 'modelyard.db'}"
    env = {
        **os.environ,
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": url_db,
        "MODELYARD_JOBS__WORKERS": "0",
    }
    env.pop("MODELYARD_REDIS_URL", None)
    _, parquet_path = generate(work, args.rows)
    token = token_for(url_db)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (work / "server.log").open("wb") as server_log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "modelyard"), "serve", "--port", str(port)],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    runs: list[dict[str, Any]] = []
    try:
        wait_healthy(url, server, deadline)
        with httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(600.0, connect=10.0),
        ) as client:
            dataset_id = timed_upload(client, parquet_path, "bench-first")["dataset"]["id"]
            client.post("/api/models", json={"name": "bench-sklearn"}).raise_for_status()
            client.post(
                "/api/models/bench-sklearn/versions",
                files={"file": ("hgb.skops", sklearn_model(parquet_path))},
                data={
                    "metadata": json.dumps(
                        {"flavor": "sklearn", "parameters": {"features": ["a", "b", "c"]}}
                    )
                },
            ).raise_for_status()
            for round_number in range(args.rounds):
                # Alternate which mode goes first, so a drift in machine load hits both.
                modes = (
                    ("--no-warm", "--warm") if round_number % 2 == 0 else ("--warm", "--no-warm")
                )
                for mode in modes:
                    log = work / f"worker{mode}-{round_number}.log"
                    run = one_run(client, env, mode, args.idle, dataset_id, log, deadline)
                    runs.append(run)
                    load = os.getloadavg()[0]
                    print(
                        f"round {round_number + 1} {mode:9}: first evaluation {run['wall_s']:.1f} s "
                        f"(model load {run['load_s']:.1f} s, queued {run['queued_s']:.1f} s), "
                        f"idle worker RSS {run['idle_rss_mb']:.0f} MiB; load average {load:.1f}",
                        flush=True,
                    )
    finally:
        stop(server)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.rows:,} rows, HistGradientBoostingRegressor, worker idle {args.idle:g} s first")
    medians = {}
    for mode in ("--no-warm", "--warm"):
        walls = [r["wall_s"] for r in runs if r["mode"] == mode]
        rss = [r["idle_rss_mb"] for r in runs if r["mode"] == mode]
        medians[mode] = statistics.median(walls)
        print(
            f"{mode:9}: median first evaluation {medians[mode]:.1f} s "
            f"({', '.join(f'{w:.1f}' for w in walls)}), median idle RSS {statistics.median(rss):.0f} MiB"
        )
    print(f"warm / cold first evaluation = {medians['--warm'] / medians['--no-warm']:.2f}")


if __name__ == "__main__":
    main()

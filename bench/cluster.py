"""A cluster on one machine: ``modelyard serve`` and two ``modelyard worker`` processes, each
with a home of its own, sharing only PostgreSQL, Redis and the blob store by URL; once with an
S3 object store (moto's server, its own process) and once with a directory given as
``file://`` (what an NFS mount would be), in the same run.

It prints, for each store:

* upload: a Parquet dataset through the resumable upload API (end to end, MB/s), and the same
  file put straight into the store (``BlobStore.put_file``, MB/s);
* dataset read: the stored Parquet read back in record batches of every column, as an
  evaluation reads it (MB/s and rows/s), object store against local in the same run (target
  >= 0.7x);
* jobs: ``--jobs`` evaluations submitted at once, and how many each worker ran.

Usage: .venv/bin/python bench/cluster.py [--rows 2000000] [--jobs 8]
Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (db 5, a queue of its own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import OUT_DIR, VENV_BIN, free_port  # noqa: E402
from tests.s3server import start_s3_server  # noqa: E402
from tests.served import make_token  # noqa: E402

from modelyard.auth.schemas import Role  # noqa: E402
from modelyard.client import Client  # noqa: E402
from modelyard.config import Settings, StorageSettings  # noqa: E402
from modelyard.kit import migrate  # noqa: E402
from modelyard.storage import ParquetBlob, open_store  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/5"
START_SECONDS = 240.0
JOB_SECONDS = 900.0


def generate(path: Path, rows: int) -> None:
    rng = np.random.default_rng(11)
    with pq.ParquetWriter(str(path), _schema()) as out:
        for start in range(0, rows, 250_000):
            n = min(250_000, rows - start)
            x = rng.normal(size=(n, 8))
            y = x @ np.linspace(-1, 1, 8) + rng.normal(0, 0.1, n)
            columns = {f"x{i}": x[:, i] for i in range(8)} | {"y": y}
            out.write_table(pa.table(columns, schema=_schema()), row_group_size=131_072)


def _schema() -> pa.Schema:
    return pa.schema([(f"x{i}", pa.float64()) for i in range(8)] + [("y", pa.float64())])


@contextmanager
def database() -> Iterator[str]:
    name = f"bench_cluster_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "modelyard"), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def wait_ok(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def read_throughput(settings: Settings, key: str, size: int) -> dict[str, float]:
    """Every column of the stored Parquet in record batches, as an evaluation reads it."""
    blob = ParquetBlob(open_store(settings), key)
    started = time.perf_counter()
    parquet = blob.open()
    rows = sum(batch.num_rows for batch in blob.batches(parquet, batch_size=100_000))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "mb_per_s": size / seconds / 1e6, "rows_per_s": rows / seconds}


def run_cluster(
    label: str, storage_env: dict[str, str], work: Path, parquet: Path, jobs: int
) -> dict[str, Any]:
    size = parquet.stat().st_size
    logs = work / f"logs-{label}"
    logs.mkdir()
    with ExitStack() as stack:
        database_url = stack.enter_context(database())
        migrate.upgrade(database_url)
        token = make_token(database_url, "bench", Role.admin)
        common = {
            k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "PROMETHEUS_"))
        } | {
            "MODELYARD_DATABASE_URL": database_url,
            "MODELYARD_REDIS_URL": REDIS,
            "MODELYARD_JOBS__QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
            "MODELYARD_LIVE__ENABLED": "false",
            "MODELYARD_ALERTS__ENABLED": "false",
            **storage_env,
        }
        port = free_port()
        server = stack.enter_context(
            process(
                ["serve", "--port", str(port)],
                common
                | {"MODELYARD_HOME": str(work / f"{label}-server"), "MODELYARD_JOBS__WORKERS": "0"},
                logs / "server.log",
            )
        )
        workers = []
        for index in (1, 2):
            metrics_port = free_port()
            log = logs / f"worker-{index}.log"
            proc = stack.enter_context(
                process(
                    ["worker", "--concurrency", "1", "--metrics-port", str(metrics_port)],
                    common | {"MODELYARD_HOME": str(work / f"{label}-worker-{index}")},
                    log,
                )
            )
            workers.append((proc, metrics_port, log))
        base = f"http://127.0.0.1:{port}"
        wait_ok(base + "/health/ready", server, logs / "server.log")
        for proc, metrics_port, log in workers:
            wait_ok(f"http://127.0.0.1:{metrics_port}/health/ready", proc, log)

        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            started = time.perf_counter()
            with Client(base, token, timeout=600) as uploader:
                dataset = {
                    "id": uploader.datasets.upload(parquet, name="bench", chunk_bytes=16 << 20).id
                }
            upload_seconds = time.perf_counter() - started
            client.post("/api/models", json={"name": "linear"}).raise_for_status()
            coef = {f"x{i}": float(c) for i, c in enumerate(np.linspace(-1, 1, 8))}
            client.post(
                "/api/models/linear/versions",
                json={"flavor": "formula", "parameters": {"kind": "linear", "coef": coef}},
            ).raise_for_status()
            job_ids = []
            started = time.perf_counter()
            for _ in range(jobs):
                r = client.post(
                    "/api/evaluations",
                    json={"model": "linear", "dataset": dataset["id"], "target": "y"},
                )
                r.raise_for_status()
                job_ids.append(r.json()["job"]["id"])
            results = []
            deadline = time.monotonic() + JOB_SECONDS
            for job_id in job_ids:
                while True:
                    job = client.get(f"/api/jobs/{job_id}").json()
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        results.append(job)
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(job)
                    time.sleep(0.2)
            jobs_seconds = time.perf_counter() - started
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            per_worker = Counter(
                str(w).split(":")[1]
                for (w,) in conn.execute(
                    sa.text("select worker from jobs where id = any(:ids)"), {"ids": job_ids}
                )
            )
            key = conn.execute(sa.text("select storage_key from datasets")).scalar_one()
        engine.dispose()

    settings = Settings(home=work / f"{label}-reader", **_storage(storage_env))
    store = open_store(settings)
    direct = work / f"{label}-direct.parquet"
    direct.write_bytes(parquet.read_bytes())
    started = time.perf_counter()
    store.put_file("bench/direct.parquet", direct)
    put_seconds = time.perf_counter() - started
    reads = [read_throughput(settings, f"datasets/files/{key}.parquet", size) for _ in range(3)]
    best = max(reads, key=lambda r: r["mb_per_s"])
    job_rates = [r["result"]["rows_per_second"] for r in results if r["status"] == "succeeded"]
    return {
        "store": label,
        "file_mb": size / 1e6,
        "upload_api_mb_per_s": size / upload_seconds / 1e6,
        "put_file_mb_per_s": size / put_seconds / 1e6,
        "read_mb_per_s": best["mb_per_s"],
        "read_rows_per_s": best["rows_per_s"],
        "reads_mb_per_s": [round(r["mb_per_s"], 1) for r in reads],
        "jobs": len(results),
        "jobs_succeeded": sum(r["status"] == "succeeded" for r in results),
        "jobs_per_worker": dict(per_worker),
        "jobs_seconds": jobs_seconds,
        "evaluation_rows_per_s_median": float(np.median(job_rates)) if job_rates else None,
    }


def _storage(env: dict[str, str]) -> dict[str, Any]:
    if env["MODELYARD_STORAGE__URL"].startswith("file:"):
        return {"storage": StorageSettings(url=env["MODELYARD_STORAGE__URL"])}
    return {
        "storage": StorageSettings(
            url=env["MODELYARD_STORAGE__URL"],
            endpoint_url=env["MODELYARD_STORAGE__ENDPOINT_URL"],
            region=env["MODELYARD_STORAGE__REGION"],
            access_key_id=env["MODELYARD_STORAGE__ACCESS_KEY_ID"],
            secret_access_key=env["MODELYARD_STORAGE__SECRET_ACCESS_KEY"],  # type: ignore[arg-type]
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="modelyard-cluster-") as tmp:
        work = Path(tmp)
        parquet = work / "bench.parquet"
        generate(parquet, args.rows)
        s3 = start_s3_server(work)
        try:
            shared = work / "shared-store"
            shared.mkdir()
            runs = [
                run_cluster(
                    "s3", s3.settings_env(s3.create_bucket(), "bench"), work, parquet, args.jobs
                ),
                run_cluster(
                    "local",
                    {"MODELYARD_STORAGE__URL": f"file://{shared}"},
                    work,
                    parquet,
                    args.jobs,
                ),
            ]
        finally:
            s3.stop()
    by = {r["store"]: r for r in runs}
    ratio = by["s3"]["read_mb_per_s"] / by["local"]["read_mb_per_s"]
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {args.rows:,} rows ({runs[0]['file_mb']:.0f} MB Parquet), "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"{'':34}{'S3 (moto)':>14}{'local (file://)':>18}")
    rows = [
        ("upload through the API, MB/s", "upload_api_mb_per_s", "{:.1f}"),
        ("put_file into the store, MB/s", "put_file_mb_per_s", "{:.1f}"),
        ("dataset read, MB/s (best of 3)", "read_mb_per_s", "{:.1f}"),
        ("dataset read, rows/s", "read_rows_per_s", "{:,.0f}"),
        ("evaluation in the job, rows/s", "evaluation_rows_per_s_median", "{:,.0f}"),
        ("jobs succeeded", "jobs_succeeded", "{}"),
        ("jobs per worker (pid: count)", "jobs_per_worker", "{}"),
    ]
    for title, key, fmt in rows:
        print(f"{title:34}{fmt.format(by['s3'][key]):>14}{fmt.format(by['local'][key]):>18}")
    print(f"dataset read, object store / local: {ratio:.2f}x (target >= 0.7x)")
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / "cluster.json"
    out.write_text(
        json.dumps({"started": started.isoformat(), "runs": runs, "ratio": ratio}, indent=1)
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()

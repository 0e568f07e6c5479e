"""Upload a 10,000,000-row dataset and evaluate a formula and a scikit-learn model on it.

Starts a real ``modelyard serve`` (random 127.0.0.1 port, temporary MODELYARD_HOME, no
embedded job workers) and a separate ``modelyard worker``, then:

1. generates the dataset as gzip CSV and as Parquet (a, b, c -> y, plus a category g);
2. uploads both with the resumable chunked upload (``modelyard datasets upload``'s code);
3. evaluates a ``formula`` linear model and a scikit-learn HistGradientBoostingRegressor
   (saved with skops) on the Parquet upload, and the formula model on the CSV upload;
4. prints upload MB/s, evaluation rows/s and the peak RSS of the server and of the worker
   (each process tree, sampled every 50 ms with psutil), with the targets and two peers
   measured in the same run: the same linear prediction + MAE as a bare pyarrow/numpy loop
   in this process, and a bare in-process pyarrow parse of the gzip CSV.

    .venv/bin/python bench/evaluate.py            # 10,000,000 rows (about 5 minutes)
    .venv/bin/python bench/evaluate.py --rows 1000000

Everything it starts is stopped by PID at the end; ``--timeout`` bounds the whole run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from modelyard.auth import service as auth_service
from modelyard.auth.schemas import Role, UserCreate
from modelyard.cli.datasets import upload_file
from modelyard.kit import migrate
from modelyard.kit.db import Database

MIB = 1 << 20
COEF = {"a": 1.2, "b": -0.5, "c": 2.0}
INTERCEPT = 3.0
TARGET_ROWS_PER_SECOND = 1_000_000
TARGET_PEAK_RSS_MB = 500
TARGET_UPLOAD_RSS_GROWTH_MB = 100


# --- data ----------------------------------------------------------------------------------


def batches(rows: int, batch_rows: int = 1_000_000, seed: int = 42) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    for start in range(0, rows, batch_rows):
        n = min(batch_rows, rows - start)
        a = np.round(rng.random(n) * 10, 3)
        b = np.round(rng.random(n) * 100, 2)
        c = np.round(rng.normal(0, 1, n), 3)
        y = np.round(
            INTERCEPT + COEF["a"] * a + COEF["b"] * b + COEF["c"] * c + rng.normal(0, 0.5, n), 3
        )
        g = np.array(["north", "south", "east", "west"])[rng.integers(0, 4, n)]
        yield pa.record_batch({"a": a, "b": b, "c": c, "g": g, "y": y})


def generate_big_csv(directory: Path, gigabytes: float) -> tuple[Path, int]:
    """An uncompressed CSV of about ``gigabytes`` GiB: one generated block, repeated."""
    path = directory / "big.csv"
    block_rows = 500_000
    sink = pa.BufferOutputStream()
    writer = pa_csv.CSVWriter(
        sink, next(batches(1)).schema, write_options=pa_csv.WriteOptions(include_header=False)
    )
    writer.write_batch(next(batches(block_rows, block_rows, seed=7)))
    writer.close()
    block = sink.getvalue().to_pybytes()
    rows = 0
    with path.open("wb") as out:
        out.write(b'"a","b","c","g","y"\n')
        while out.tell() < gigabytes * (1 << 30):
            out.write(block)
            rows += block_rows
    return path, rows


def generate(directory: Path, rows: int) -> tuple[Path, Path]:
    parquet_path = directory / "bench.parquet"
    csv_path = directory / "bench.csv.gz"
    schema = next(batches(1)).schema
    with (
        pq.ParquetWriter(str(parquet_path), schema) as parquet_out,
        gzip.open(csv_path, "wb", compresslevel=1) as raw_csv,
    ):
        writer = pa_csv.CSVWriter(raw_csv, schema)
        for batch in batches(rows):
            parquet_out.write_batch(batch)
            writer.write_batch(batch)
        writer.close()
    return csv_path, parquet_path


# --- processes -----------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Peak resident memory of process trees (a process and its children), sampled often."""

    def __init__(self, pids: dict[str, int], interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.peaks = dict.fromkeys(pids, 0)
        self.current = dict.fromkeys(pids, 0)
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def tree_rss(self, pid: int) -> int:
        try:
            parent = psutil.Process(pid)
            total = parent.memory_info().rss
            for child in parent.children(recursive=True):
                with suppress(psutil.Error):
                    total += child.memory_info().rss
            return total
        except psutil.Error:
            return 0

    def run(self) -> None:
        while not self.stopped.is_set():
            with self.lock:
                for name, pid in self.pids.items():
                    rss = self.tree_rss(pid)
                    self.current[name] = rss
                    self.peaks[name] = max(self.peaks[name], rss)
            self.stopped.wait(self.interval)

    @contextmanager
    def window(self) -> Iterator[dict[str, int]]:
        """Peaks within a block (reset at its start), as {name: bytes}; plus ``<name>_start``."""
        with self.lock:
            saved = dict(self.peaks)
            start = {f"{k}_start": self.tree_rss(p) for k, p in self.pids.items()}
            self.peaks = {k: start[f"{k}_start"] for k in self.pids}
        result: dict[str, int] = dict(start)
        try:
            yield result
        finally:
            with self.lock:
                result.update(self.peaks)
                self.peaks = {k: max(saved[k], self.peaks[k]) for k in self.pids}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_healthy(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy in time")


# --- measurements --------------------------------------------------------------------------


def timed_upload(client: httpx.Client, path: Path, name: str) -> dict[str, Any]:
    marks: dict[str, float] = {}
    size = path.stat().st_size

    def progress(done: int) -> None:
        if done >= size and "sent" not in marks:
            marks["sent"] = time.perf_counter()

    started = time.perf_counter()
    dataset = upload_file(client, path, name=name, chunk_bytes=16 * MIB, on_progress=progress)
    finished = time.perf_counter()
    sent = marks.get("sent", finished)
    return {
        "dataset": dataset,
        "mb": size / MIB,
        "transfer_s": sent - started,
        "check_s": finished - sent,
        "total_s": finished - started,
    }


def evaluate(client: httpx.Client, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    started = time.perf_counter()
    response = client.post("/api/evaluations", json=body)
    response.raise_for_status()
    submitted = time.perf_counter() - started
    evaluation_id = response.json()["id"]
    while time.monotonic() < deadline:
        result: dict[str, Any] = client.get(f"/api/evaluations/{evaluation_id}").json()
        if result["status"] in ("succeeded", "failed", "cancelled"):
            result["wall_s"] = time.perf_counter() - started
            result["submit_s"] = submitted
            if result["status"] != "succeeded":
                raise SystemExit(
                    f"evaluation {evaluation_id} {result['status']}: {result['error']}"
                )
            return result
        time.sleep(0.1)
    raise SystemExit(f"evaluation {evaluation_id} did not finish in time")


def peer_linear(parquet_path: Path, chunk_rows: int) -> float:
    """Rows/s of the same prediction and MAE as a bare loop: the ceiling for the job."""
    started = time.perf_counter()
    rows, total = 0, 0.0
    for batch in pq.ParquetFile(str(parquet_path)).iter_batches(
        batch_size=chunk_rows, columns=["a", "b", "c", "y"]
    ):
        prediction = INTERCEPT + sum(w * batch.column(k).to_numpy() for k, w in COEF.items())
        total += float(np.abs(prediction - batch.column("y").to_numpy()).sum())
        rows += batch.num_rows
    return rows / (time.perf_counter() - started)


def peer_csv_parse(csv_path: Path) -> float:
    """Rows/s of a bare streaming parse of the gzip CSV (no hashing, no Parquet written)."""
    started = time.perf_counter()
    reader = pa_csv.open_csv(
        pa.input_stream(str(csv_path), compression="gzip"),
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=4 * MIB),
    )
    rows = sum(batch.num_rows for batch in reader)
    return rows / (time.perf_counter() - started)


def sklearn_model(parquet_path: Path) -> bytes:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingRegressor

    table = (
        pq.ParquetFile(str(parquet_path))
        .read_row_group(0, columns=["a", "b", "c", "y"])
        .slice(0, 100_000)
    )
    x = np.column_stack([table.column(k).to_numpy() for k in ("a", "b", "c")])
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(
        x, table.column("y").to_numpy()
    )
    return bytes(skops.io.dumps(model))


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument(
        "--upload-gb", type=float, default=2.0, help="Also stream a CSV this big (0: skip)."
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="Seconds for the whole run.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    home = work / "home"
    home.mkdir()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_JOBS__WORKERS": "0"}
    env.pop("MODELYARD_DATABASE_URL", None)
    env.pop("MODELYARD_REDIS_URL", None)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        print(f"generating {args.rows:,} rows in {work} ...", flush=True)
        started = time.perf_counter()
        csv_path, parquet_path = generate(work, args.rows)
        print(
            f"  {time.perf_counter() - started:.1f} s: {csv_path.name} {csv_path.stat().st_size / MIB:.0f} MiB, "
            f"{parquet_path.name} {parquet_path.stat().st_size / MIB:.0f} MiB",
            flush=True,
        )
        url_db = f"sqlite:///{home / 'modelyard.db'}"
        migrate.upgrade(url_db)
        database = Database(url_db)
        with database.session() as session:
            user = auth_service.create_user(
                session, UserCreate(name="bench", role=Role.editor), actor="bench"
            )
            token = auth_service.create_token(
                session, user, lifetime=dt.timedelta(days=1), actor="bench"
            ).token
        database.dispose()

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        logs = (work / "server.log").open("wb"), (work / "worker.log").open("wb")
        server = subprocess.Popen(
            [str(bin_dir / "modelyard"), "serve", "--port", str(port), "--job-workers", "0"],
            env=env,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
        processes.append(server)
        worker = subprocess.Popen(
            [str(bin_dir / "modelyard"), "worker", "--concurrency", "1"],
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        processes.append(worker)
        wait_healthy(url, server, deadline)
        time.sleep(1.0)  # let both settle before the baselines are read
        sampler = RssSampler({"server": server.pid, "worker": worker.pid})
        sampler.start()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(
            base_url=url, headers=headers, timeout=httpx.Timeout(600.0, connect=10.0)
        ) as client:
            uploads = {}
            upload_rss = {}
            for label, path in (("gzip CSV", csv_path), ("Parquet", parquet_path)):
                with sampler.window() as rss:
                    uploads[label] = timed_upload(
                        client, path, f"bench-{label.split()[-1].lower()}"
                    )
                upload_rss[label] = rss
                print(f"  uploaded {label}: {uploads[label]['total_s']:.1f} s", flush=True)
            big = None
            if args.upload_gb > 0:
                big_path, big_rows = generate_big_csv(work, args.upload_gb)
                with sampler.window() as rss, big_path.open("rb") as handle:
                    started = time.perf_counter()
                    response = client.post(
                        "/api/datasets",
                        files={"file": ("big.csv", handle)},
                        data={"name": "bench-big"},
                    )
                    response.raise_for_status()
                    elapsed = time.perf_counter() - started
                big = {
                    "mb": big_path.stat().st_size / MIB,
                    "rows": big_rows,
                    "total_s": elapsed,
                    "rss": rss,
                }
                assert response.json()["row_count"] == big_rows, response.json()
                big_path.unlink()
                print(
                    f"  streamed {big['mb']:.0f} MiB CSV in one request: {elapsed:.1f} s",
                    flush=True,
                )

            client.post("/api/models", json={"name": "bench-formula"}).raise_for_status()
            formula = {
                "flavor": "formula",
                "parameters": {"kind": "linear", "intercept": INTERCEPT, "coef": COEF},
            }
            client.post("/api/models/bench-formula/versions", json=formula).raise_for_status()
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

            parquet_id = uploads["Parquet"]["dataset"]["id"]
            csv_id = uploads["gzip CSV"]["dataset"]["id"]
            runs = [
                ("formula, Parquet upload", {"model": "bench-formula", "dataset": parquet_id}),
                ("formula, gzip CSV upload", {"model": "bench-formula", "dataset": csv_id}),
                (
                    "scikit-learn HGB, Parquet upload",
                    {"model": "bench-sklearn", "dataset": parquet_id},
                ),
            ]
            evaluations = {}
            eval_rss = {}
            for label, body in runs:
                with sampler.window() as rss:
                    evaluations[label] = evaluate(
                        client, {**body, "target": "y", "chunk_rows": args.chunk_rows}, deadline
                    )
                eval_rss[label] = rss
                done = evaluations[label]
                queued = (
                    dt.datetime.fromisoformat(done["started_at"])
                    - dt.datetime.fromisoformat(done["created_at"])
                ).total_seconds()
                print(
                    f"  evaluated {label}: {done['wall_s']:.1f} s (submit {done['submit_s']:.1f} s, queued {queued:.1f} s, "
                    f"model load {done['details']['load_seconds']:.1f} s, chunks {done['details']['seconds']:.1f} s)",
                    flush=True,
                )
        sampler.stopped.set()
        sampler.join()
        peer_eval = peer_linear(parquet_path, args.chunk_rows)
        peer_parse = peer_csv_parse(csv_path)
        print(
            json.dumps(
                {
                    "uploads": {
                        k: {**v, "dataset": v["dataset"]["id"]} for k, v in uploads.items()
                    },
                    "upload_rss": upload_rss,
                    "big": big,
                    "peaks": sampler.peaks,
                    "evaluations": {
                        k: {"details": v["details"], "wall_s": v["wall_s"]}
                        for k, v in evaluations.items()
                    },
                    "eval_rss": eval_rss,
                    "peer_eval": peer_eval,
                    "peer_parse": peer_parse,
                    "load_average": os.getloadavg(),
                },
                default=str,
            ),
            flush=True,
        )
        report(
            args.rows,
            uploads,
            upload_rss,
            big,
            evaluations,
            eval_rss,
            sampler.peaks,
            peer_eval,
            peer_parse,
        )
    finally:
        for process in reversed(processes):
            stop(process)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(
    rows: int,
    uploads: dict[str, dict[str, Any]],
    upload_rss: dict[str, dict[str, int]],
    big: dict[str, Any] | None,
    evaluations: dict[str, dict[str, Any]],
    eval_rss: dict[str, dict[str, int]],
    peaks: dict[str, int],
    peer_eval: float,
    peer_parse: float,
) -> None:
    mb = 1 << 20
    print()
    print(
        f"rows: {rows:,}; load average now {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores"
    )
    print(
        "upload                 MiB   transfer MB/s   check+convert s   end-to-end MB/s   rows/s   server RSS start -> peak (growth)"
    )
    for label, up in uploads.items():
        rss = upload_rss[label]
        growth = (rss["server"] - rss["server_start"]) / mb
        print(
            f"  {label:<18} {up['mb']:7.0f}   {up['mb'] / up['transfer_s']:13.0f}   {up['check_s']:15.1f}   "
            f"{up['mb'] / up['total_s']:15.1f}   {rows / up['total_s']:>9,.0f}   "
            f"{rss['server_start'] / mb:.0f} -> {rss['server'] / mb:.0f} MiB (+{growth:.0f})"
        )
    print(
        "evaluation                          rows/s (in job)   rows/s (submit->done)   mae      worker RSS peak"
    )
    for label, result in evaluations.items():
        in_job = result["details"]["rows_per_second"]
        print(
            f"  {label:<33} {in_job:>15,.0f}   {rows / result['wall_s']:>21,.0f}   {result['metrics']['mae']:.4f}   "
            f"{eval_rss[label]['worker'] / mb:.0f} MiB"
        )
    formula = evaluations["formula, Parquet upload"]["details"]["rows_per_second"]
    print("peers (same machine, same run)")
    print(
        f"  bare pyarrow+numpy linear+MAE loop: {peer_eval:,.0f} rows/s; the job reaches {formula / peer_eval:.2f}x of it"
    )
    csv_rows_s = rows / uploads["gzip CSV"]["total_s"]
    print(
        f"  bare pyarrow gzip CSV parse: {peer_parse:,.0f} rows/s; the upload (transfer, hash, parse, Parquet) reaches {csv_rows_s / peer_parse:.2f}x of it"
    )
    print(f"peak RSS: server {peaks['server'] / mb:.0f} MiB, worker {peaks['worker'] / mb:.0f} MiB")
    growth = max((r["server"] - r["server_start"]) / mb for r in upload_rss.values())
    checks = [
        (
            f"formula from Parquet >= {TARGET_ROWS_PER_SECOND:,} rows/s",
            formula >= TARGET_ROWS_PER_SECOND,
        ),
        (
            f"peak RSS <= {TARGET_PEAK_RSS_MB} MiB (server and worker)",
            max(peaks.values()) / mb <= TARGET_PEAK_RSS_MB,
        ),
        (
            f"server RSS growth during an upload < {TARGET_UPLOAD_RSS_GROWTH_MB} MiB",
            growth < TARGET_UPLOAD_RSS_GROWTH_MB,
        ),
    ]
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")


if __name__ == "__main__":
    main()

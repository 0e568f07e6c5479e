"""Which S3 client for the blob store: pyarrow's S3 filesystem (already a dependency), obstore
and s3fs, against the same S3 server (moto's, its own process) in the same run.

For each client, in turns (``--rounds``): import time, upload of a Parquet file (multipart,
MB/s), and a read of every column in record batches through ``pyarrow.parquet`` (MB/s), the
way an evaluation reads a dataset; the local file read the same way is the reference. obstore
and s3fs are installed on the first run into the gitignored ``bench/.venv-storage`` (with
pyarrow and numpy), where this script then runs itself.

Usage: .venv/bin/python bench/storage_clients.py [--rows 2000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-storage"
CLIENTS = ("pyarrow", "obstore", "s3fs")


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        uv = Path(sys.executable).parent / "uv"
        subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(VENV)], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "-q", "--python", str(python),
             "pyarrow", "numpy", "obstore", "s3fs"],
            check=True,
        )  # fmt: skip
    return python


def one(client: str, endpoint: str, key: str, secret: str, bucket: str, path: Path) -> dict:
    """Runs in a fresh interpreter (so import time and memory are the client's own)."""
    code = f"""
import json, time, resource
t0 = time.perf_counter()
import pyarrow as pa, pyarrow.parquet as pq
client = {client!r}
if client == "pyarrow":
    import pyarrow.fs as pafs
elif client == "obstore":
    import obstore
    from obstore.store import S3Store
else:
    import s3fs
imported = time.perf_counter() - t0
path, size = {str(path)!r}, {path.stat().st_size}
name = f"{{client}}-{{time.time_ns()}}.parquet"
if client == "pyarrow":
    fs = pafs.S3FileSystem(access_key={key!r}, secret_key={secret!r},
        endpoint_override={endpoint.removeprefix("http://")!r}, scheme="http", region="us-east-1")
    def upload(out_name):
        with open(path, "rb") as src, fs.open_output_stream(f"{bucket}/{{out_name}}") as out:
            while chunk := src.read(8 << 20):
                out.write(chunk)
    def reader(in_name):
        return pq.ParquetFile(fs.open_input_file(f"{bucket}/{{in_name}}"), pre_buffer=True)
elif client == "obstore":
    store = S3Store({bucket!r}, endpoint={endpoint!r}, access_key_id={key!r},
        secret_access_key={secret!r}, region="us-east-1", client_options={{"allow_http": True}})
    def upload(out_name):
        with open(path, "rb") as src, obstore.open_writer(store, out_name) as out:
            while chunk := src.read(8 << 20):
                out.write(chunk)
    class File:
        closed = False
        def __init__(self, handle): self.handle = handle
        def read(self, n=-1): return bytes(self.handle.read(n) if n is not None and n >= 0 else self.handle.read())
        def seek(self, offset, whence=0): return self.handle.seek(offset, whence)
        def tell(self): return self.handle.tell()
        def seekable(self): return True
        def readable(self): return True
        def close(self): pass
    def reader(in_name):
        handle = obstore.open_reader(store, in_name, buffer_size=8 << 20)
        return pq.ParquetFile(pa.PythonFile(File(handle), mode="r"), pre_buffer=True)
else:
    fs = s3fs.S3FileSystem(key={key!r}, secret={secret!r}, endpoint_url={endpoint!r},
        client_kwargs={{"region_name": "us-east-1"}})
    def upload(out_name):
        with open(path, "rb") as src, fs.open(f"{bucket}/{{out_name}}", "wb") as out:
            while chunk := src.read(8 << 20):
                out.write(chunk)
    def reader(in_name):
        return pq.ParquetFile(fs.open(f"{bucket}/{{in_name}}", "rb"), pre_buffer=True)
t = time.perf_counter(); upload(name); up = time.perf_counter() - t
t = time.perf_counter()
rows = sum(b.num_rows for b in reader(name).iter_batches(batch_size=100_000))
read = time.perf_counter() - t
t = time.perf_counter()
local_rows = sum(b.num_rows for b in pq.ParquetFile(path).iter_batches(batch_size=100_000))
local = time.perf_counter() - t
print(json.dumps({{"client": client, "import_s": imported, "upload_mb_s": size / up / 1e6,
    "read_mb_s": size / read / 1e6, "local_read_mb_s": size / local / 1e6, "rows": rows,
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
import os; os._exit(0)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=900, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.inside:
        python = ensure_venv()
        os.execv(str(python), [str(python), __file__, "--inside", *sys.argv[1:]])
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tests.s3server import start_s3_server

    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="modelyard-clients-") as tmp:
        work = Path(tmp)
        path = work / "data.parquet"
        rng = np.random.default_rng(3)
        table = pa.table({f"c{i}": rng.normal(size=args.rows) for i in range(10)})
        pq.write_table(table, path, row_group_size=131_072)
        size_mb = path.stat().st_size / 1e6
        server = start_s3_server(work)
        try:
            bucket = server.create_bucket()
            results: dict[str, list[dict]] = {c: [] for c in CLIENTS}
            for round_number in range(args.rounds):
                order = CLIENTS[round_number % 3 :] + CLIENTS[: round_number % 3]
                for client in order:
                    results[client].append(
                        one(
                            client,
                            server.endpoint_url,
                            server.access_key_id,
                            server.secret_access_key,
                            bucket,
                            path,
                        )
                    )
        finally:
            server.stop()
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {args.rows:,} rows x 10 float64 columns "
        f"({size_mb:.0f} MB Parquet), {args.rounds} rounds in turns, load average {load:.1f} "
        f"before and {os.getloadavg()[0]:.1f} after; medians:"
    )
    print(
        f"{'client':10}{'import s':>10}{'upload MB/s':>13}{'read MB/s':>11}{'local MB/s':>12}{'RSS MB':>8}"
    )
    for client, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k not in ("client",)}
        print(
            f"{client:10}{med['import_s']:>10.2f}{med['upload_mb_s']:>13.1f}"
            f"{med['read_mb_s']:>11.1f}{med['local_read_mb_s']:>12.1f}{med['max_rss_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()

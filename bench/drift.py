"""Data drift against Evidently: the same two datasets, the same verdicts, time and memory.

1. Generates a reference and a current dataset (``--rows`` 1,000,000 each; 20 numeric and 5
   categorical columns; seeded) as Parquet. In the current one, 5 numeric columns are shifted
   (mean by 0.5 and 0.2 std, scale by 1.5, a log-normal's spread, a uniform's range) and 2
   categorical ones (a frequency mix, a new category); one numeric column moves by 0.05 std and
   one categorical mix a little, both below the default thresholds: 7 of 25 should drift.
2. Runs Evidently's ``DataDriftPreset`` (``Report([DataDriftPreset()]).run(current,
   reference)`` on ``Dataset.from_pandas`` with the column types declared) in its own process
   with the Parquet read by ``pandas.read_parquet``, as its users do.
3. Runs modelyard's drift computation (``modelyard.drift.detector.detect``, what the ``drift``
   job calls) on the same files in its own process, with the default options.
4. Unless ``--skip-api``: starts ``modelyard serve`` on a temporary home, uploads both files
   (resumable upload, not timed as drift), and runs the check end to end as a job through
   ``POST /api/drift``, polling ``GET /api/drift/{id}``; the server's RSS is sampled meanwhile.

Each process reports its wall time (reading and computing), its RSS after the imports and its
peak RSS (``ru_maxrss``). It then prints, per column, the method and value of both and whether
both flag the same columns. Evidently is not a modelyard dependency: it is installed into
``bench/.venv-evidently`` on the first run (with pandas below 3, which Evidently 0.7 still
needs). The figures are written to ``bench/out/drift-<time>.json``.

    .venv/bin/python bench/drift.py
    .venv/bin/python bench/drift.py --rows 200000 --skip-api
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, OUT_DIR, VENV_BIN, start_modelyard

from modelyard.client import Client

EVIDENTLY_VENV = BENCH_DIR / ".venv-evidently"
NUMERIC = [f"n{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
EXPECTED_DRIFTED = {"n00", "n01", "n02", "n03", "n04", "c0", "c1"}
ROW_GROUP = 128 * 1024
MIB = 1 << 20


# --- data ----------------------------------------------------------------------------------


def _numeric(i: int, rng: np.random.Generator, n: int, current: bool) -> np.ndarray:
    if i == 0:
        return rng.normal(10 + (1.0 if current else 0.0), 2.0, n)  # mean +0.5 std
    if i == 1:
        return rng.normal(0, 1.5 if current else 1.0, n)  # scale x1.5
    if i == 2:
        return rng.lognormal(1.0, 0.8 if current else 0.5, n)  # spread
    if i == 3:
        return rng.uniform(20 if current else 0, 120 if current else 100, n)  # range +20%
    if i == 4:
        return rng.normal(100 + (2.0 if current else 0.0), 10.0, n)  # mean +0.2 std
    if i == 5:
        return rng.normal(0.05 if current else 0.0, 1.0, n)  # +0.05 std: below 0.1
    kind = i % 4
    if kind == 0:
        return rng.normal(i, 1 + i / 10, n)
    if kind == 1:
        return rng.exponential(i, n)
    if kind == 2:
        return rng.poisson(50, n).astype(np.float64)  # integers, many distinct values
    return rng.gamma(2.0, i, n)


def _categorical(i: int, rng: np.random.Generator, n: int, current: bool) -> np.ndarray:
    if i == 0:
        p = [0.25, 0.35, 0.4] if current else [0.5, 0.3, 0.2]
        return rng.choice(np.array(["red", "green", "blue"]), n, p=p)
    if i == 1:
        names = np.array(["basic", "plus", "pro", "enterprise"])
        p = [0.45, 0.25, 0.15, 0.15] if current else [0.55, 0.3, 0.15, 0.0]
        return rng.choice(names, n, p=p)
    if i == 2:
        p = [0.52, 0.48] if current else [0.5, 0.5]
        return rng.choice(np.array(["yes", "no"]), n, p=p)
    if i == 3:
        return rng.choice(np.array([f"region-{k}" for k in range(12)]), n)
    weights = 1.0 / np.arange(1, 51)
    return rng.choice(np.array([f"sku-{k:03d}" for k in range(50)]), n, p=weights / weights.sum())


def generate(path: Path, rows: int, *, current: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    schema = pa.schema(
        [(name, pa.float64()) for name in NUMERIC] + [(name, pa.string()) for name in CATEGORICAL]
    )
    with pq.ParquetWriter(str(path), schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            arrays = [np.round(_numeric(i, rng, n, current), 4) for i in range(len(NUMERIC))]
            arrays += [_categorical(i, rng, n, current) for i in range(len(CATEGORICAL))]
            writer.write_table(pa.table(dict(zip(schema.names, arrays, strict=True))))


# --- the two systems, each in its own process ------------------------------------------------

MEASURE = """
import json, resource, sys, time
def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

EVIDENTLY_SCRIPT = (
    MEASURE
    + """
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
import evidently
reference_path, current_path, numeric, categorical = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
after_imports = rss_mb()
started = time.perf_counter()
reference = pd.read_parquet(reference_path)
current = pd.read_parquet(current_path)
read_s = time.perf_counter() - started
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
computing = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
compute_s = time.perf_counter() - computing
columns = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if not config["type"].endswith("ValueDrift"):
        continue
    method, value, threshold = config["method"], float(metric["value"]), float(config["threshold"])
    if "p_value" in method:
        drifted = value <= threshold if method.startswith("K-S") else value < threshold
    else:
        drifted = value >= threshold
    columns[config["column"]] = {"method": method, "value": value, "threshold": threshold, "drifted": drifted}
print(json.dumps({
    "version": evidently.__version__, "read_s": read_s, "compute_s": compute_s,
    "wall_s": time.perf_counter() - started, "rss_after_imports_mb": after_imports,
    "peak_rss_mb": peak_mb(), "columns": columns,
}))
"""
)

MODELYARD_SCRIPT = (
    MEASURE
    + """
from pathlib import Path
from modelyard.drift import detector
reference_path, current_path, numeric, categorical = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
after_imports = rss_mb()
columns = [detector.Column(n, "numeric") for n in numeric] + [detector.Column(n, "categorical") for n in categorical]
started = time.perf_counter()
result = detector.detect(Path(reference_path), Path(current_path), columns, detector.Options())
wall = time.perf_counter() - started
print(json.dumps({
    "wall_s": wall, "rss_after_imports_mb": after_imports, "peak_rss_mb": peak_mb(),
    "summary": result["summary"],
    "columns": {c["name"]: {"method": c["method"], "value": c["p_value"] if c["p_value"] is not None else c["statistic"],
                            "threshold": c["threshold"], "drifted": c["drifted"]} for c in result["columns"]},
}))
"""
)


def ensure_evidently() -> Path:
    """``bench/.venv-evidently/bin/python``, installing Evidently there on the first run."""
    python = EVIDENTLY_VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently.presets"]
    if python.exists() and subprocess.run(probe, capture_output=True, timeout=300).returncode == 0:
        return python
    print(f"installing Evidently into {EVIDENTLY_VENV} (first run only) ...", flush=True)
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(EVIDENTLY_VENV)], check=True, timeout=300)
    packages = ["evidently", "pandas<3", "pyarrow"]  # Evidently 0.7 imports pandas 2 internals
    uv = VENV_BIN / "uv"
    if uv.exists():
        command = [str(uv), "pip", "install", "-q", "--python", str(python), *packages]
    else:
        command = [str(python), "-m", "pip", "install", "-q", *packages]
    subprocess.run(command, check=True, timeout=1800)
    return python


def run_script(python: Path, script: str, reference: Path, current: Path) -> dict[str, Any]:
    argv = [str(python), "-c", script, str(reference), str(current)]
    argv += [",".join(NUMERIC), ",".join(CATEGORICAL)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- end to end through the API --------------------------------------------------------------


def through_api(reference: Path, current: Path) -> dict[str, Any]:
    with start_modelyard(timeout=120) as server:
        client = httpx.Client(base_url=server.url, headers=server.headers(), timeout=600)
        started = time.perf_counter()
        with Client(server.url, server.token, timeout=600) as uploader:
            for path in (reference, current):
                uploader.datasets.upload(path, name=path.stem, chunk_bytes=16 * MIB)
        upload_s = time.perf_counter() - started
        idle_rss = server.rss_mb()
        peak = [idle_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                peak[0] = max(peak[0], server.rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        response = client.post("/api/drift", json={"reference": "reference", "current": "current"})
        response.raise_for_status()
        drift_id = response.json()["id"]
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            body: dict[str, Any] = client.get(f"/api/drift/{drift_id}").json()
            if body["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.2)
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        if body["status"] != "succeeded":
            raise SystemExit(f"drift check {drift_id} {body['status']}: {body['error']}")
        return {
            "upload_s": upload_s,
            "wall_s": wall,
            "job_s": body["summary"].get("seconds"),
            "server_rss_idle_mb": idle_rss,
            "server_rss_peak_mb": peak[0],
            "drifted": body["summary"]["drifted"],
        }


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each dataset")
    parser.add_argument("--skip-api", action="store_true", help="no end-to-end run as a job")
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="modelyard-drift-"))
    try:
        reference, current = work / "reference.parquet", work / "current.parquet"
        started = time.perf_counter()
        generate(reference, args.rows, current=False, seed=1)
        generate(current, args.rows, current=True, seed=2)
        print(
            f"data: {args.rows:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical "
            f"columns, {reference.stat().st_size / MIB:.0f} + {current.stat().st_size / MIB:.0f} "
            f"MiB Parquet ({time.perf_counter() - started:.1f} s to generate)",
            flush=True,
        )
        out: dict[str, Any] = {"rows": args.rows, "cpus": os.cpu_count()}
        out["modelyard"] = run_script(Path(sys.executable), MODELYARD_SCRIPT, reference, current)
        mine = out["modelyard"]
        print(
            f"modelyard detect : {mine['wall_s']:7.2f} s   peak RSS {mine['peak_rss_mb']:7.0f} MB "
            f"(after imports {mine['rss_after_imports_mb']:.0f} MB)",
            flush=True,
        )
        if not args.skip_evidently:
            out["evidently"] = run_script(ensure_evidently(), EVIDENTLY_SCRIPT, reference, current)
            theirs = out["evidently"]
            print(
                f"Evidently {theirs['version']:<7}: {theirs['wall_s']:7.2f} s   peak RSS "
                f"{theirs['peak_rss_mb']:7.0f} MB (after imports "
                f"{theirs['rss_after_imports_mb']:.0f} MB; read {theirs['read_s']:.2f} s, "
                f"report {theirs['compute_s']:.2f} s)",
                flush=True,
            )
            print(
                f"ratio            : Evidently/modelyard time "
                f"{theirs['wall_s'] / mine['wall_s']:.1f}x, peak RSS "
                f"{theirs['peak_rss_mb'] / mine['peak_rss_mb']:.1f}x"
            )
        if not args.skip_api:
            out["api"] = through_api(reference, current)
            api = out["api"]
            print(
                f"modelyard job    : {api['wall_s']:7.2f} s submit to result (job {api['job_s']:.2f} s)"
                f", server RSS {api['server_rss_idle_mb']:.0f} -> {api['server_rss_peak_mb']:.0f} MB"
                f" (uploads {api['upload_s']:.1f} s, not counted)",
                flush=True,
            )
        print("\ncolumn  modelyard                      evidently                          same")
        agree = True
        for name in NUMERIC + CATEGORICAL:
            m = mine["columns"][name]
            line = f"{name:<7} {m['method']:<14} {m['value']:9.4f} {'DRIFT' if m['drifted'] else '-':<5}"
            if "evidently" in out:
                e = out["evidently"]["columns"][name]
                same = e["drifted"] == m["drifted"]
                agree &= same
                line += f"  {e['method'][:22]:<22} {e['value']:9.4f} {'DRIFT' if e['drifted'] else '-':<5} {'yes' if same else 'NO'}"
            print(line)
        flagged = sorted(n for n, c in mine["columns"].items() if c["drifted"])
        print(f"\nmodelyard flags {flagged} (expected {sorted(EXPECTED_DRIFTED)})")
        if "evidently" in out:
            theirs_flagged = sorted(
                n for n, c in out["evidently"]["columns"].items() if c["drifted"]
            )
            print(f"Evidently flags {theirs_flagged}")
            print(f"same columns flagged: {'yes' if agree else 'NO'}")
            out["agree"] = agree
        if "api" in out:
            print(f"the job flags   {sorted(out['api']['drifted'])}")
        OUT_DIR.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        target = OUT_DIR / f"drift-{stamp}.json"
        target.write_text(json.dumps(out, indent=2))
        print(f"\nwritten {target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The register -> alias -> evaluate -> compare flow through modelyard's Python client and
through MLflow's ``MlflowClient``, in one run, against a server of each on 127.0.0.1.

Each of ``--rounds`` rounds (20) does, through each system's own client:

1. register: a new model and one version (modelyard: a linear formula version; MLflow: a
   registered model and a version from a pyfunc model logged once before the rounds);
2. alias: point ``champion`` at the version, then resolve ``name@champion``;
3. evaluate: score ``name@champion`` on the same 10,000-row dataset and wait for the metrics
   (modelyard: ``evaluations.create`` + ``wait``, a job on the server; MLflow:
   ``mlflow.models.evaluate`` of ``models:/name@champion`` in a run, computed in the client's
   process and logged to the server: how MLflow evaluates);
4. compare: this round's evaluation against the previous round's, metrics side by side
   (modelyard: ``evaluations.compare``; MLflow: ``search_runs`` on the two run ids).

It prints median and p95 per step for both and MLflow/modelyard at the median. MLflow runs in
``bench/.venv-mlflow`` (installed on the first run by ``bench/api.py``'s ``ensure_mlflow``),
its flow as a child process of that venv's Python that reports its timings as JSON
(``mlflow server --workers 1``: the flow sends one request at a time). Both
servers are started here with fresh SQLite stores and stopped at the end; the figures go to
``bench/out/client-<time>.json``.

    .venv/bin/python bench/client.py [--rounds 20] [--rows 10000] [--skip-mlflow]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT_DIR, start_modelyard, summarise

from api import MLFLOW_VENV, start_mlflow
from modelyard.client import Client

STEPS = ("register", "alias", "resolve", "evaluate", "compare")

MLFLOW_FLOW = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import mlflow, pandas as pd
from mlflow import MlflowClient

url, rounds, data_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
mlflow.set_tracking_uri(url)
client = MlflowClient(url)
data = pd.read_csv(data_path)

class Linear(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return 2.0 * model_input["x"] + 1.0

mlflow.set_experiment("bench-client")
with mlflow.start_run() as run:
    info = mlflow.pyfunc.log_model(name="model", python_model=Linear(), input_example=data[["x"]].head(2))
source = info.model_uri
times = {k: [] for k in ("register", "alias", "resolve", "evaluate", "compare")}
previous = None
for i in range(rounds):
    name = f"bench-{i}"
    t = time.perf_counter()
    client.create_registered_model(name)
    version = client.create_model_version(
        name, source, run_id=run.info.run_id, model_id=info.model_id
    )
    times["register"].append(time.perf_counter() - t)
    t = time.perf_counter()
    client.set_registered_model_alias(name, "champion", version.version)
    times["alias"].append(time.perf_counter() - t)
    t = time.perf_counter()
    client.get_model_version_by_alias(name, "champion")
    times["resolve"].append(time.perf_counter() - t)
    t = time.perf_counter()
    with mlflow.start_run() as evaluation:
        result = mlflow.models.evaluate(
            f"models:/{name}@champion", data, targets="y", model_type="regressor"
        )
    times["evaluate"].append(time.perf_counter() - t)
    if previous is not None:
        t = time.perf_counter()
        runs = client.search_runs(
            [evaluation.info.experiment_id],
            filter_string=f"attributes.run_id IN ('{evaluation.info.run_id}', '{previous}')",
        )
        assert len(runs) == 2 and "mean_absolute_error" in runs[0].data.metrics
        times["compare"].append(time.perf_counter() - t)
    previous = evaluation.info.run_id
print(json.dumps({"times": times, "mae": result.metrics.get("mean_absolute_error"),
                  "version": mlflow.__version__}))
"""


def write_dataset(path: Path, rows: int) -> Path:
    lines = ["x,y"] + [f"{i / 100},{2 * (i / 100) + 1 + ((i % 7) - 3) * 0.01}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def modelyard_flow(url: str, token: str, rounds: int, data: Path) -> dict[str, Any]:
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    with Client(url, token) as client:
        dataset = client.datasets.upload(data)
        previous = None
        done = None
        for i in range(rounds):
            name = f"bench-{i}"
            t = time.perf_counter()
            client.models.create(name)
            version = client.versions.create(
                name,
                flavor="formula",
                parameters={"kind": "linear", "coef": {"x": 2.0}, "intercept": 1.0},
            )
            times["register"].append(time.perf_counter() - t)
            t = time.perf_counter()
            client.aliases.set(name, "champion", version.version)
            times["alias"].append(time.perf_counter() - t)
            t = time.perf_counter()
            client.versions.get(f"{name}@champion")
            times["resolve"].append(time.perf_counter() - t)
            t = time.perf_counter()
            queued = client.evaluations.create(f"{name}@champion", dataset.id, "y")
            done = client.evaluations.wait(queued.id)
            times["evaluate"].append(time.perf_counter() - t)
            assert done.status == "succeeded", done.error
            if previous is not None:
                t = time.perf_counter()
                comparison = client.evaluations.compare([done.id, previous])
                times["compare"].append(time.perf_counter() - t)
                assert any(m.metric == "mae" for m in comparison.metrics)
            previous = done.id
    return {"times": times, "mae": done.metrics.get("mae") if done else None}


def mlflow_flow(url: str, rounds: int, data: Path) -> dict[str, Any]:
    python = MLFLOW_VENV / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", MLFLOW_FLOW, url, str(rounds), str(data)],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false"},
    )
    if result.returncode != 0:
        raise SystemExit(f"the MLflow flow failed:\n{result.stderr[-4000:]}")
    flow: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return flow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-client-"))
    data = write_dataset(work / "data.csv", args.rows)
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "rows": args.rows,
        "load_before": load,
    }
    server = start_modelyard(work / "modelyard", timeout=600)
    try:
        report["modelyard"] = modelyard_flow(server.url, server.token or "", args.rounds, data)
    finally:
        server.stop()
    OUT_DIR.mkdir(exist_ok=True)
    partial = OUT_DIR / f"client-{started:%Y%m%dT%H%M%S}.json"
    partial.write_text(json.dumps(report, indent=1))  # kept if the peer's run fails
    if not args.skip_mlflow:
        (work / "mlflow").mkdir()
        # One uvicorn process: the flow is sequential, and on a busy machine uvicorn's
        # supervisor kills workers that miss its 5 s health check, over and over.
        mlflow_server = start_mlflow(work / "mlflow", 1)
        try:
            report["mlflow"] = mlflow_flow(mlflow_server.url, args.rounds, data)
            report["mlflow_version"] = report["mlflow"].get("version")
        finally:
            mlflow_server.stop()
    report["load_after"] = os.getloadavg()
    print(
        f"{args.rounds} rounds, {args.rows:,} rows, {report['started']}, load average "
        f"{load[0]:.1f} before, {report['load_after'][0]:.1f} after"
    )
    print(f"{'step':<10} {'modelyard p50/p95 ms':>24} {'MLflow p50/p95 ms':>24} {'ratio p50':>10}")
    for step in STEPS:
        ours = summarise(report["modelyard"]["times"][step])
        report.setdefault("summary", {})[step] = {"modelyard": ours}
        line = f"{step:<10} {ours['p50_ms']:>11.1f} / {ours['p95_ms']:<10.1f}"
        if "mlflow" in report:
            theirs = summarise(report["mlflow"]["times"][step])
            report["summary"][step]["mlflow"] = theirs
            ratio = theirs["p50_ms"] / ours["p50_ms"] if ours["p50_ms"] else float("nan")
            line += f" {theirs['p50_ms']:>11.1f} / {theirs['p95_ms']:<10.1f} {ratio:>9.1f}x"
        print(line)
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"client-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Online predictions against ``mlflow models serve``, the same model, side by side in one run.

One scikit-learn model (``GradientBoostingRegressor``, 100 trees of depth 3 on 8 numeric
features) is saved with skops once. modelyard serves it as a registered ``sklearn`` version
through ``POST /api/models/bench@production/predict`` of ``modelyard serve`` (one process,
its defaults, an API token); MLflow serves the same estimator, logged with
``serialization_format="skops"``, with ``mlflow models serve --env-manager local`` (its
defaults: uvicorn, one worker) at ``POST /invocations``. Both get the same
``dataframe_split`` body, of 1 row and of 1,000 rows, from ``wrk`` (one connection, then 16
concurrent connections) for ``--seconds`` each; the systems take turns per scenario. Printed:
median, p99, requests/s and rows/s, MLflow/modelyard ratios, and the memory (RSS and PSS of
each process tree) after the load. Targets: modelyard >= 5x MLflow's requests/s at 1 row,
and p99 <= 10 ms at 1 row.

Both answers are checked to be the same predictions before the load. MLflow runs from the
pinned ``.venv-mlflow`` (scripts/mlflow-venv.sh, made on the first run); ``wrk`` comes from
``BENCH=1 scripts/system-deps.sh``. Everything started is stopped by process group; the
figures are written to ``bench/out/serving-<time>.json``.

    .venv/bin/python bench/serving.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT_DIR, Server, free_port, mlflow_bin, start_modelyard, start_process

FEATURES = [f"x{i}" for i in range(8)]
TARGET_RATIO = 5.0
TARGET_P99_MS = 10.0
SCENARIOS = [(1, 1), (1, 16), (1000, 1), (1000, 16)]  # (rows per request, connections)


def train() -> tuple[Any, np.ndarray]:
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(7)
    x = rng.random((2000, len(FEATURES)))
    y = x @ np.arange(1, len(FEATURES) + 1) + np.sin(6 * x[:, 0]) + rng.normal(0, 0.1, 2000)
    return GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(x, y), x


def body(x: np.ndarray, rows: int) -> bytes:
    split = {"columns": FEATURES, "data": x[:rows].round(6).tolist()}
    return json.dumps({"dataframe_split": split}).encode()


def register_modelyard(server: Server, skops_file: Path) -> str:
    with httpx.Client(base_url=server.url + "/api", headers=server.headers(), timeout=60) as api:
        assert api.post("/models", json={"name": "bench"}).status_code == 201
        metadata = {"flavor": "sklearn", "parameters": {"features": FEATURES}}
        created = api.post(
            "/models/bench/versions",
            files={"file": ("model.skops", skops_file.read_bytes())},
            data={"metadata": json.dumps(metadata)},
        )
        assert created.status_code == 201, created.text
        assert api.put("/models/bench/aliases/production", json={"version": 1}).status_code == 200
    return server.url + "/api/models/bench@production/predict"


def start_mlflow(work: Path, model: Any) -> tuple[Server, str]:
    bin_dir = mlflow_bin()
    model_dir = work / "mlflow-model"
    script = textwrap.dedent(
        f"""
        import sys, skops.io, mlflow.sklearn
        from mlflow.models import infer_signature
        import numpy as np, pandas as pd
        trusted = skops.io.get_untrusted_types(file=sys.argv[1])  # sklearn's own tree classes
        model = skops.io.load(sys.argv[1], trusted=trusted)
        x = pd.DataFrame(np.zeros((2, {len(FEATURES)})), columns={FEATURES!r})
        mlflow.sklearn.save_model(model, sys.argv[2], serialization_format="skops",
            signature=infer_signature(x, model.predict(x.to_numpy())),
            pip_requirements=["scikit-learn", "skops"], skops_trusted_types=trusted)
        """
    )
    skops_file = work / "model.skops"
    subprocess.run(
        [str(bin_dir / "python"), "-c", script, str(skops_file), str(model_dir)],
        check=True,
        timeout=600,
    )
    port = free_port()
    argv = [
        str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir),
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    # mlflow models serve runs `uvicorn` by name: the venv's bin must be on the PATH
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    server = start_process(
        "mlflow",
        argv,
        port=port,
        ready_path="/ping",
        log_dir=work,
        timeout=600,
        cwd=work,
        env={"PATH": path},
    )
    return server, server.url + "/invocations"


def wrk(
    url: str, headers: dict[str, str], payload: bytes, connections: int, seconds: float
) -> dict[str, Any]:
    lua = textwrap.dedent(
        f"""
        wrk.method = "POST"
        wrk.body = [==[{payload.decode()}]==]
        wrk.headers["Content-Type"] = "application/json"
        done = function(summary, latency, requests)
          for _, p in pairs({{50, 99}}) do
            io.write(string.format("P%d %d\\n", p, latency:percentile(p)))
          end
          io.write(string.format("REQ %d\\nERR %d\\n", summary.requests,
            summary.errors.status + summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout))
        end
        """
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s"]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    try:
        output = subprocess.run(
            [*argv, "-s", handle.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    values = dict(
        line.split() for line in output.splitlines() if re.match(r"^(P\d+|REQ|ERR) ", line)
    )
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    return {
        "requests": int(values["REQ"]),
        "errors": int(values["ERR"]),
        "req_per_s": float(rate[1]) if rate else float("nan"),
        "p50_ms": int(values["P50"]) / 1000,
        "p99_ms": int(values["P99"]) / 1000,
    }


def check_same(targets: dict[str, tuple[str, dict[str, str]]], payload: bytes) -> None:
    answers = {}
    for name, (url, headers) in targets.items():
        response = httpx.post(
            url,
            content=payload,
            headers={**headers, "content-type": "application/json"},
            timeout=60,
        )
        response.raise_for_status()
        answers[name] = np.asarray(response.json()["predictions"], dtype=float).ravel()
    first, second = answers.values()
    assert np.allclose(first, second), answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Load per scenario and system.")
    args = parser.parse_args()
    import skops.io

    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    model, x = train()
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    skops_file = work / "model.skops"
    skops.io.dump(model, skops_file)
    servers: list[Server] = []
    try:
        modelyard = start_modelyard(timeout=600)
        servers.append(modelyard)
        my_url = register_modelyard(modelyard, skops_file)
        mlflow, mlflow_url = start_mlflow(work, model)
        servers.append(mlflow)
        targets = {
            "modelyard": (my_url, modelyard.headers()),
            "mlflow": (mlflow_url, {}),
        }
        check_same(targets, body(x, 1000))
        for url, headers in targets.values():  # first requests load the model: not timed
            for _ in range(20):
                httpx.post(
                    url,
                    content=body(x, 1),
                    headers={**headers, "content-type": "application/json"},
                    timeout=60,
                )
        results: list[dict[str, Any]] = []
        for rows, connections in SCENARIOS:
            payload = body(x, rows)
            row: dict[str, Any] = {"rows": rows, "connections": connections}
            for name, (url, headers) in targets.items():
                row[name] = wrk(url, headers, payload, connections, args.seconds)
                print(f"{name:9s} {rows:5d} rows x{connections:2d}: {row[name]}", flush=True)
            row["ratio_req_per_s"] = row["modelyard"]["req_per_s"] / max(
                row["mlflow"]["req_per_s"], 1e-9
            )
            results.append(row)
        memory = {
            server.name: dict(zip(("rss_mb", "pss_mb"), server.memory_mb(), strict=True))
            | {"processes": server.processes()}
            for server in servers
        }
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print()
    print(
        f"{'rows':>5} {'conn':>4} | {'modelyard p50/p99 ms':>21} {'req/s':>8} | {'MLflow p50/p99 ms':>19} {'req/s':>8} | ratio"
    )
    for row in results:
        me, them = row["modelyard"], row["mlflow"]
        print(
            f"{row['rows']:>5} {row['connections']:>4} | {me['p50_ms']:>9.2f} / {me['p99_ms']:>9.2f} {me['req_per_s']:>8.0f} | "
            f"{them['p50_ms']:>8.2f} / {them['p99_ms']:>8.2f} {them['req_per_s']:>8.0f} | {row['ratio_req_per_s']:.1f}x"
        )
    one_row = [r for r in results if r["rows"] == 1]
    ratio = min(r["ratio_req_per_s"] for r in one_row)
    p99 = max(r["modelyard"]["p99_ms"] for r in one_row)
    print(
        f"\n1 row: modelyard/MLflow requests/s >= {ratio:.1f}x (target {TARGET_RATIO:.0f}x): {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"1 row: modelyard p99 <= {p99:.2f} ms (target {TARGET_P99_MS:.0f} ms): {'met' if p99 <= TARGET_P99_MS else 'MISSED'}"
    )
    for name, figures in memory.items():
        print(
            f"memory after the load, {name}: {figures['rss_mb']:.0f} MB RSS, {figures['pss_mb']:.0f} MB PSS, {figures['processes']} processes"
        )
    print(f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"serving-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "seconds": args.seconds,
                "host": platform.node(),
                "load_average": {"before": load_before, "after": load_after},
                "model": "GradientBoostingRegressor(100 trees, depth 3), 8 features, skops",
                "results": results,
                "memory": memory,
            },
            indent=2,
        )
    )
    print(f"figures written to {out.relative_to(OUT_DIR.parent.parent)}")


if __name__ == "__main__":
    main()

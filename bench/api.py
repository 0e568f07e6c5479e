"""The registry API against MLflow's, side by side on fresh SQLite databases, in one run.

Starts ``modelyard serve`` (one granian worker, temporary home) and ``mlflow server`` (its
defaults: uvicorn with 4 workers; SQLite backend store, 127.0.0.1) on free ports, then sends both
the same sequence over one keep-alive httpx client each, taking turns in blocks of ``--block``
(20) requests so that both see the same machine load over each step. With ``--block 1`` the
turns alternate every request; then each request finds its server idle for as long as the
other system's request took, and on this VM a request to an idle server pays about 1.5 ms of
wake-up (modelyard's health check: 0.5 ms back to back, 2.1 ms beside MLflow), which the
README shows beside the default:

1. create ``--models`` registered models (200), each with two tags;
2. give the first ``--aliased`` of them (20) a version and the alias ``champion`` (not timed);
3. list/search models, a page of 100 (``--reads`` requests);
4. resolve ``name@champion`` to its version (``--reads`` requests, round robin);
5. the health check, for reference: what the client and the HTTP stack cost alone.

It prints median and p95 of each step for both and MLflow/modelyard at the median (target: at
least 20x). Then it loads ``GET /api/models`` (a page of 100) with 64 concurrent connections for
``--load-seconds`` (``wrk`` when installed, ``apt-get install wrk``; else an asyncio httpx
client) and prints p50/p95/p99 and req/s (target: p99 at most 20 ms), and the memory of the
modelyard process tree (one process with one worker, the default; granian's main process and
its workers with ``--workers N``) idle after start-up and after the
load: the RSS sum (target: at most 120 MB) and the PSS sum, which counts shared pages once. The same load against MLflow's search is printed for reference.

MLflow is not a modelyard dependency: it runs from ``.venv-mlflow``, made on the first run by
``scripts/mlflow-venv.sh`` from the pins in scripts/mlflow-requirements.txt (shared with the
tests of ``modelyard import mlflow``). Everything started is stopped by PID at
the end; the figures are written to ``bench/out/api-<time>.json``.

    .venv/bin/python bench/api.py
    .venv/bin/python bench/api.py --skip-mlflow        # modelyard alone
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    OUT_DIR,
    Server,
    free_port,
    mlflow_bin,
    start_modelyard,
    start_process,
    summarise,
)

MLFLOW_API = "/api/2.0/mlflow"
TARGET_RATIO = 20.0
TARGET_P99_MS = 20.0
TARGET_RSS_MB = 120.0
CONCURRENCY = 64

Timer = Callable[[], httpx.Response]


# ---------------------------------------------------------------------------------------------
# The two systems behind one small interface: the same steps, each in its own REST dialect.


class Modelyard:
    name = "modelyard"

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url, headers=server.headers(), timeout=30.0)

    def create_model(self, name: str) -> httpx.Response:
        return self.client.post(
            "/api/models", json={"name": name, "tags": {"team": "bench", "stage": "dev"}}
        )

    def add_version_and_alias(self, name: str) -> None:
        body = {"flavor": "formula", "parameters": {"kind": "linear", "coef": {"x": 1.0}}}
        _ok(self.client.post(f"/api/models/{name}/versions", json=body))
        _ok(self.client.put(f"/api/models/{name}/aliases/champion", json={"version": 1}))

    def health(self) -> httpx.Response:
        return self.client.get("/healthz")

    def list_page(self) -> httpx.Response:
        return self.client.get("/api/models", params={"limit": 100})

    def resolve(self, name: str) -> httpx.Response:
        return self.client.get(f"/api/models/{name}/aliases/champion")

    def page_size(self, response: httpx.Response) -> int:
        return len(response.json()["items"])

    def load_target(self) -> tuple[str, dict[str, str]]:
        return self.server.url + "/api/models?limit=100", self.server.headers()


class MLflow:
    name = "mlflow"

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url + MLFLOW_API, timeout=30.0)

    def create_model(self, name: str) -> httpx.Response:
        tags = [{"key": "team", "value": "bench"}, {"key": "stage", "value": "dev"}]
        return self.client.post("/registered-models/create", json={"name": name, "tags": tags})

    def add_version_and_alias(self, name: str) -> None:
        # MLflow refuses a bare local path without a run; the source is not read here.
        _ok(
            self.client.post(
                "/model-versions/create", json={"name": name, "source": f"s3://bench/{name}/1"}
            )
        )
        _ok(
            self.client.post(
                "/registered-models/alias", json={"name": name, "alias": "champion", "version": "1"}
            )
        )

    def health(self) -> httpx.Response:
        return self.client.get(self.server.url + "/health")

    def list_page(self) -> httpx.Response:
        return self.client.get("/registered-models/search", params={"max_results": 100})

    def resolve(self, name: str) -> httpx.Response:
        return self.client.get(
            "/registered-models/alias", params={"name": name, "alias": "champion"}
        )

    def page_size(self, response: httpx.Response) -> int:
        return len(response.json().get("registered_models", []))

    def load_target(self) -> tuple[str, dict[str, str]]:
        return self.server.url + MLFLOW_API + "/registered-models/search?max_results=100", {}


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:300]}"
        )
    return response


RETRIES: dict[str, int] = {}


def timed(name: str, call: Timer) -> float:
    """Seconds for one request. A keep-alive connection that the server closed while idle is
    reopened once, untimed (uvicorn, for one, closes idle connections after 5 s)."""
    for attempt in (1, 2):
        start = time.perf_counter()
        try:
            _ok(call())
        except httpx.RemoteProtocolError:
            if attempt == 2:
                raise
            RETRIES[name] = RETRIES.get(name, 0) + 1
            continue
        return time.perf_counter() - start
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Servers


def start_mlflow(home: Path, workers: int | None) -> Server:
    mlflow = mlflow_bin() / "mlflow"
    port = free_port()
    argv = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--default-artifact-root", str(home / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    if workers:
        argv += ["--workers", str(workers)]
    server = start_process(
        "mlflow", argv, port=port, ready_path="/health", log_dir=home, cwd=home, timeout=600
    )
    server.home = home
    return server


def mlflow_version() -> str:
    python = mlflow_bin() / "python"
    result = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result.stdout.strip() or "?"


def settle_memory(server: Server, seconds: float = 2.0) -> dict[str, float]:
    """RSS and PSS of the idle process tree, after a short pause for in-flight work."""
    time.sleep(seconds)
    rss, pss = server.memory_mb()
    return {"rss_mb": rss, "pss_mb": pss}


# ---------------------------------------------------------------------------------------------
# Load: 64 connections


def _parse_wrk_ms(value: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value)
    if not match:
        return float("nan")
    number, unit = float(match[1]), match[2]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def load_with_wrk(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    # A Lua summary gives p95 too; wrk's --latency prints only 50/75/90/99.
    script = (
        "done = function(summary, latency, requests)\n"
        "  for _, p in pairs({50, 95, 99}) do\n"
        '    io.write(string.format("P%d %d\\n", p, latency:percentile(p)))\n'
        "  end\n"
        '  io.write(string.format("MAX %d\\nREQ %d\\nERR %d\\n", latency.max, summary.requests,\n'
        "    summary.errors.status + summary.errors.connect + summary.errors.read\n"
        "    + summary.errors.write + summary.errors.timeout))\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    argv = [
        "wrk",
        "-t2",
        f"-c{CONCURRENCY}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "5s",
        "-s",
        handle.name,
    ]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    try:
        output = subprocess.run(
            [*argv, url], capture_output=True, text=True, timeout=seconds + 60, check=True
        ).stdout
    finally:
        os.unlink(handle.name)
    values = dict(
        line.split() for line in output.splitlines() if re.match(r"^(P\d+|MAX|REQ|ERR) ", line)
    )
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    return {
        "tool": "wrk -t2 -c64",
        "requests": int(values["REQ"]),
        "errors": int(values["ERR"]),
        "req_per_s": float(rate[1]) if rate else float("nan"),
        "p50_ms": int(values["P50"]) / 1000,
        "p95_ms": int(values["P95"]) / 1000,
        "p99_ms": int(values["P99"]) / 1000,
        "max_ms": int(values["MAX"]) / 1000,
    }


async def _load_with_httpx(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10.0) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    figures = summarise(latencies)
    return {
        "tool": "httpx asyncio, 64 workers",
        "requests": len(latencies),
        "errors": errors,
        "req_per_s": len(latencies) / elapsed,
        **{k: v for k, v in figures.items() if k != "n"},
    }


def load(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return load_with_wrk(url, headers, seconds)
    return asyncio.run(_load_with_httpx(url, headers, seconds))


# ---------------------------------------------------------------------------------------------
# The run


def machine_note() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load1, load5, _ = os.getloadavg()
    return (
        f"{psutil.cpu_count()} vCPU ({cpu}), {psutil.virtual_memory().total / (1 << 30):.0f} GiB, "
        f"Python {platform.python_version()}, load average {load1:.1f}/{load5:.1f} at start"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_note(),
        "command": "python bench/api.py " + " ".join(sys.argv[1:]),
        "models": args.models,
        "reads": args.reads,
    }
    print(f"{report['date']}  {report['machine']}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    servers: list[Server] = []
    try:
        started = time.perf_counter()
        modelyard_server = start_modelyard(work / "modelyard")
        servers.append(modelyard_server)
        report["modelyard_start_s"] = time.perf_counter() - started
        report["modelyard_idle"] = settle_memory(modelyard_server)
        systems: list[Any] = [Modelyard(modelyard_server)]
        if not args.skip_mlflow:
            (work / "mlflow").mkdir()
            started = time.perf_counter()
            mlflow_server = start_mlflow(work / "mlflow", args.mlflow_workers)
            servers.append(mlflow_server)
            report["mlflow_version"] = mlflow_version()
            report["mlflow_start_s"] = time.perf_counter() - started
            report["mlflow_idle"] = settle_memory(mlflow_server)
            systems.append(MLflow(mlflow_server))
        print(
            f"started: modelyard {report['modelyard_start_s']:.1f} s"
            + (
                f", MLflow {report['mlflow_version']} {report['mlflow_start_s']:.1f} s"
                if not args.skip_mlflow
                else ""
            ),
            flush=True,
        )

        for system in systems:  # warm-up: connections, caches, lazily imported code
            for i in range(5):
                system.create_model(f"warmup-{i}")
                system.list_page()

        steps: dict[str, dict[str, list[float]]] = {}

        block = max(1, args.block)
        report["block"] = block

        def measure(step: str, count: int, call: Callable[[Any, int], Timer]) -> None:
            # Blocks of `block` requests to one system, the systems taking turns, so that both
            # see the same machine load over the step, and each is measured as a client
            # working through a list sees it (--block 1: strict request-by-request turns, where
            # every request finds its server idle since the other system's request).
            samples: dict[str, list[float]] = {s.name: [] for s in systems}
            for start in range(0, count, block):
                for system in systems:
                    for i in range(start, min(start + block, count)):
                        samples[system.name].append(timed(system.name, call(system, i)))
            steps[step] = samples
            print(f"  {step}: {count} each", flush=True)

        names = [f"bench-model-{i:04d}" for i in range(args.models)]
        measure(
            f"create model ({args.models})",
            args.models,
            lambda s, i: lambda: s.create_model(names[i]),
        )
        for system in systems:
            for name in names[: args.aliased]:
                system.add_version_and_alias(name)
            size = system.page_size(system.list_page())
            if size != 100:
                raise RuntimeError(f"{system.name} returned a page of {size}, not 100")
        measure("list/search, page of 100", args.reads, lambda s, i: s.list_page)
        aliased = names[: args.aliased]
        measure(
            "resolve name@alias",
            args.reads,
            lambda s, i: lambda: s.resolve(aliased[i % len(aliased)]),
        )
        measure("health check (no target)", args.reads, lambda s, i: s.health)

        report["steps"] = {}
        for step, samples in steps.items():
            row = {name: summarise(values) for name, values in samples.items()}
            if "mlflow" in row:
                row["ratio_p50"] = row["mlflow"]["p50_ms"] / row["modelyard"]["p50_ms"]
                row["ratio_p95"] = row["mlflow"]["p95_ms"] / row["modelyard"]["p95_ms"]
            report["steps"][step] = row

        report["load"] = {}
        for system in systems:
            url, headers = system.load_target()
            print(
                f"  load: {system.name}, {CONCURRENCY} connections, {args.load_seconds:.0f} s",
                flush=True,
            )
            report["load"][system.name] = load(url, headers, args.load_seconds)
        report["modelyard_after_load"] = settle_memory(modelyard_server)
        report["modelyard_processes"] = modelyard_server.processes()
        if not args.skip_mlflow:
            report["mlflow_after_load"] = settle_memory(servers[1], 0.0)
            report["mlflow_processes"] = servers[1].processes()
    except BaseException:
        for server in servers:
            print(f"--- {server.name} log (last lines)\n{server.log_tail(40)}", file=sys.stderr)
        raise
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report["reconnects"] = dict(RETRIES)
    return report


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_report(report: dict[str, Any]) -> None:
    print()
    print(f"modelyard vs MLflow {report.get('mlflow_version', '(skipped)')}, {report['date']}")
    print(f"machine: {report['machine']}")
    if report.get("reconnects"):
        print(f"idle keep-alive connections reopened (untimed): {report['reconnects']}")
    print()
    header = f"{'step':28} {'modelyard p50/p95 ms':>22} {'MLflow p50/p95 ms':>20} {'ratio p50':>10}"
    print(header)
    print("-" * len(header))
    for step, row in report["steps"].items():
        mine = row["modelyard"]
        line = f"{step:28} {mine['p50_ms']:>10.2f} / {mine['p95_ms']:<9.2f}"
        if "mlflow" in row:
            theirs = row["mlflow"]
            ratio = row["ratio_p50"]
            line += f" {theirs['p50_ms']:>8.2f} / {theirs['p95_ms']:<9.2f} {ratio:>8.1f}x"
            if "no target" not in step:
                line += f"  {verdict(ratio >= TARGET_RATIO)} (>= {TARGET_RATIO:.0f}x)"
        print(line)
    print()
    for name, figures in report["load"].items():
        what = (
            "GET /api/models?limit=100"
            if name == "modelyard"
            else "registered-models/search?max_results=100"
        )
        line = (
            f"{name:9} {what}, {CONCURRENCY} connections ({figures['tool']}): "
            f"{figures['req_per_s']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
            f"p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
            f"{figures['errors']} errors"
        )
        if name == "modelyard":
            line += (
                f"  {verdict(figures['p99_ms'] <= TARGET_P99_MS)} (p99 <= {TARGET_P99_MS:.0f} ms)"
            )
        print(line)
    idle, after = report["modelyard_idle"], report["modelyard_after_load"]
    print(
        f"modelyard memory ({report['modelyard_processes']} processes): idle after start-up "
        f"RSS {idle['rss_mb']:.0f} MB (PSS {idle['pss_mb']:.0f}), after the load "
        f"RSS {after['rss_mb']:.0f} MB (PSS {after['pss_mb']:.0f})  "
        f"{verdict(idle['rss_mb'] <= TARGET_RSS_MB)} (idle RSS <= {TARGET_RSS_MB:.0f} MB)"
    )
    if "mlflow_idle" in report:
        idle, after = report["mlflow_idle"], report["mlflow_after_load"]
        print(
            f"MLflow memory ({report['mlflow_processes']} processes): idle after start-up "
            f"RSS {idle['rss_mb']:.0f} MB (PSS {idle['pss_mb']:.0f}), after the load "
            f"RSS {after['rss_mb']:.0f} MB (PSS {after['pss_mb']:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=200, help="Models to create (200).")
    parser.add_argument("--aliased", type=int, default=20, help="Models given a version and alias.")
    parser.add_argument("--reads", type=int, default=300, help="Requests per read step (300).")
    parser.add_argument(
        "--load-seconds", type=float, default=10.0, help="Duration of each load run."
    )
    parser.add_argument("--skip-mlflow", action="store_true", help="Measure modelyard alone.")
    parser.add_argument(
        "--block",
        type=int,
        default=20,
        help="Requests to one system before the other's turn (20; 1 alternates every request).",
    )
    parser.add_argument(
        "--mlflow-workers", type=int, default=None, help="MLflow server workers (its default: 4)."
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="Bound on the whole run (s).")
    args = parser.parse_args()
    if args.models < 100 or args.aliased < 1 or args.aliased > args.models:
        parser.error("--models must be at least 100 (a full page) and --aliased within it")

    import signal

    def _timeout(*_: object) -> None:
        raise TimeoutError(f"the benchmark ran past --timeout {args.timeout:.0f} s")

    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(int(args.timeout))
    report = run(args)
    signal.alarm(0)
    print_report(report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"api-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {out.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()

"""The web UI in Debian's Chromium: first paint, largest paint, layout shift, bytes and requests
of every page, cold and warm, on loopback and on a throttled link; axe-core on each page.

Starts ``modelyard serve`` on a fresh temporary home (one worker, SQLite) and seeds it: three
models with versions and aliases, a dataset and an evaluation, a push target with a deployment
whose metric store holds ``--hours`` (2) of one-second intervals of 8 deployment series and 30
target series (what a db_bench target records), so that chart data is as heavy as a real page's.
Then for each page and each network:

- ``loopback``: no emulation;
- ``20mbit``: CDP network emulation, 20 Mbit/s down and up, 20 ms latency;

it loads the page cold (a new browser context with an empty cache, signed in) and warm (the
same URL again in that context: cached static assets, the same session), and reads First
Contentful Paint and Largest Contentful Paint from the page's performance entries, Cumulative
Layout Shift from its layout-shift entries (without recent input), and the bytes on the wire
(CDP ``encodedDataLength``, compressed as sent) and requests of the page, with the service
worker blocked (a first visit has none, and what a worker fetches is not on the page's DevTools
session: the warm figures are therefore without the worker's cache); the deployment page's
chart data (``/metrics``) is counted apart. The deployment page is loaded for every range.
axe-core (bundled by the ``axe-playwright-python`` package) checks each page once, in the
light and in the dark colour scheme.

Targets (from the issue): FCP <= 300 ms on loopback and <= 1 s throttled; first load <= 60 KB
on the wire except chart data, which stays <= 150 KB; CLS <= 0.02; 0 axe violations. The
script prints a table and the misses, and writes ``bench/out/web-<time>.json``.

    .venv/bin/python bench/web.py
    .venv/bin/python bench/web.py --hours 24 --pages deployment
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_modelyard

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
NETWORKS = {
    "loopback": None,
    "20mbit": {"latency": 20, "downloadThroughput": 20e6 / 8, "uploadThroughput": 20e6 / 8},
}
TARGETS = {"fcp_loopback_ms": 300, "fcp_throttled_ms": 1000, "kb": 60, "chart_kb": 150, "cls": 0.02}
TARGET_SERIES = (
    ["ops_per_sec", "ops_per_sec.put", "ops_per_sec.get"]
    + [f"latency_{q}_us" for q in ("p50", "p95", "p99", "p999", "max")]
    + [
        "cpu_process_cores",
        "cpu_foreground_cores",
        "cpu_flush_cores",
        "cpu_compaction_cores",
        "cpu_available_cores",
    ]
    + [f"rocksdb_{n}" for n in range(17)]
)
OWN_SERIES = [
    "predicted_smax",
    "actual_smax",
    "lower_bound_smax",
    "achieved_ops_per_sec",
    "offered_ops_per_sec",
    "headroom",
    "error_pct",
    "censored_violation_pct",
]

# Paint and shift figures the page itself recorded.
VITALS = """() => new Promise((resolve) => {
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  let lcp = 0, cls = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lcp = Math.max(lcp, e.startTime);
  }).observe({type: "largest-contentful-paint", buffered: true});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) cls += e.value;
  }).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve({fcp: paint ? paint.startTime : null, lcp: lcp || null, cls: cls}), 300);
})"""


def seed(server: Any, hours: float) -> dict[str, Any]:
    """Models, a dataset, an evaluation, and a deployment with ``hours`` of intervals."""
    from modelyard.deployments._engine import deployment_owner
    from modelyard.kit.db import make_engine
    from modelyard.monitoring.store import MetricStore
    from modelyard.targets.service import target_owner

    api = httpx.Client(base_url=server.url + "/api", headers=server.headers(), timeout=60)
    for name in ("disk-growth", "latency-linear", "cpu-per-put"):
        api.post("/models", json={"name": name, "description": f"**{name}**: a bench model."})
        for number in (1, 2):
            r = api.post(
                f"/models/{name}/versions",
                json={
                    "flavor": "formula",
                    "parameters": {
                        "kind": "linear",
                        "intercept": float(number),
                        "coef": {"x": 1.0},
                    },
                    "metrics": {"rmse": 0.5 / number},
                },
            )
            r.raise_for_status()
        api.put(f"/models/{name}/aliases/production", json={"version": 2})
    rows = "x,y,region\n" + "".join(
        f"{i},{i * 1.1:.2f},{'eu' if i % 2 else 'us'}\n" for i in range(500)
    )
    dataset = api.post("/datasets", files={"file": ("d.csv", rows.encode())}, data={"name": "rows"})
    dataset.raise_for_status()
    evaluation = api.post(
        "/evaluations",
        json={"model": "cpu-per-put/2", "dataset": dataset.json()["id"], "target": "y"},
    )
    evaluation.raise_for_status()
    target = api.post(
        "/targets", json={"name": "pushed", "kind": "push", "config": {}, "start": False}
    )
    target.raise_for_status()
    deployment = api.post(
        "/deployments",
        json={"name": "capacity", "target": "pushed", "model": "latency-linear@production"},
    )
    deployment.raise_for_status()
    dep = deployment.json()
    engine = make_engine(f"sqlite:///{server.home / 'modelyard.db'}")
    store = MetricStore(engine)
    rng = random.Random(7)
    now = int(time.time() * 1000)
    start = now - int(hours * 3_600_000)
    own_batch: list[tuple[int, dict[str, float]]] = []
    target_batch: list[tuple[int, dict[str, float]]] = []
    for ts in range(start, now, 1000):
        burst = 200_000.0 if rng.random() < 0.02 else 4_000.0
        own_batch.append(
            (
                ts,
                {n: 40_000.0 + rng.gauss(0, 800) for n in OWN_SERIES[:5]}
                | {"headroom": 1.2, "error_pct": rng.gauss(0, 3), "censored_violation_pct": 0.0},
            )
        )
        target_batch.append(
            (
                ts,
                {
                    n: burst * rng.uniform(0.9, 1.1) if n.startswith("ops") else rng.uniform(1, 900)
                    for n in TARGET_SERIES
                },
            )
        )
        if len(own_batch) >= 600:
            store.write(deployment_owner(dep["id"]), own_batch)
            store.write(target_owner(dep["target_id"]), target_batch)
            own_batch, target_batch = [], []
    if own_batch:
        store.write(deployment_owner(dep["id"]), own_batch)
        store.write(target_owner(dep["target_id"]), target_batch)
    store.rollup()
    engine.dispose()
    return {
        "deployment": dep["id"],
        "dataset": dataset.json()["id"],
        "evaluation": evaluation.json()["id"],
    }


def pages(seeded: dict[str, Any]) -> dict[str, str]:
    dep = seeded["deployment"]
    return {
        "models": "/models",
        "model": "/models/latency-linear",
        "version": "/models/latency-linear/versions/2",
        "jobs": "/jobs",
        "evaluations": "/evaluations",
        "evaluation": f"/evaluations/{seeded['evaluation']}",
        "datasets": "/datasets",
        "dataset": f"/datasets/{seeded['dataset']}",
        "deployments": "/deployments",
        "deployment-15m": f"/deployments/{dep}?range=-15m",
        "deployment-1h": f"/deployments/{dep}?range=-1h",
        "deployment-6h": f"/deployments/{dep}?range=-6h",
        "deployment-24h": f"/deployments/{dep}?range=-24h",
        "targets": "/targets",
        "reports": "/reports",
        "alerts": "/alerts",
        "users": "/admin/users",
    }


def log_in(context: Any, base: str) -> None:
    page = context.new_page()
    page.goto(base + "/login")
    page.get_by_label("User name").fill("bench-admin")
    page.get_by_label("Password").fill("bench-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/models")
    page.close()


def measure(context: Any, url: str, network: dict[str, float] | None) -> dict[str, Any]:
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if network is not None:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **network})
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    started = time.monotonic()
    page.goto(url, wait_until="load")
    if "/deployments/" in url:
        page.wait_for_function(
            "() => document.querySelectorAll('[data-chart] canvas').length > 0", timeout=30_000
        )
    page.wait_for_timeout(500)  # late requests (chart data, htmx) finish
    vitals = page.evaluate(VITALS)
    elapsed = time.monotonic() - started
    chart = sum(n for rid, n in sizes.items() if "/metrics" in urls.get(rid, ""))
    total = sum(sizes.values())
    page.close()
    return {
        "fcp_ms": vitals["fcp"],
        "lcp_ms": vitals["lcp"],
        "cls": round(vitals["cls"], 4),
        "kb": round((total - chart) / 1024, 1),
        "chart_kb": round(chart / 1024, 1),
        "requests": len(sizes),
        "load_s": round(elapsed, 2),
    }


def axe(context: Any, url: str, axe_source: str) -> list[str]:
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.evaluate(axe_source)  # through the DevTools protocol: the page's CSP does not apply
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    page.close()
    return [f"{v['id']} ({len(v['nodes'])})" for v in result["violations"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0, help="history of the deployment")
    parser.add_argument("--pages", default="", help="only pages whose name contains this")
    args = parser.parse_args()
    import axe_playwright_python
    from playwright.sync_api import sync_playwright

    axe_source = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    load = os.getloadavg()
    with start_modelyard(timeout=300) as server:  # a busy machine starts slowly
        print(f"seeding {args.hours} h of intervals ...", flush=True)
        seeded = seed(server, args.hours)
        todo = {k: v for k, v in pages(seeded).items() if args.pages in k}
        results: dict[str, Any] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for name, path in todo.items():
                results[name] = {}
                for net_name, network in NETWORKS.items():
                    # service workers blocked: a first visit has none, and requests a worker
                    # answers would not be counted on the page's own DevTools session
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 900}, service_workers="block"
                    )
                    log_in(context, server.url)
                    cdp = context.new_cdp_session(context.new_page())
                    cdp.send("Network.clearBrowserCache")
                    cold = measure(context, server.url + path, network)
                    warm = measure(context, server.url + path, network)
                    results[name][net_name] = {"cold": cold, "warm": warm}
                    context.close()
                violations = []
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        color_scheme=scheme, viewport={"width": 1280, "height": 900}
                    )
                    log_in(context, server.url)
                    violations += [
                        f"{scheme}: {v}" for v in axe(context, server.url + path, axe_source)
                    ]
                    context.close()
                results[name]["axe"] = violations
                row = results[name]
                print(
                    f"{name:16} "
                    + "  ".join(
                        f"{net}: FCP {row[net]['cold']['fcp_ms'] or 0:5.0f}/{row[net]['warm']['fcp_ms'] or 0:4.0f} ms "
                        f"LCP {row[net]['cold']['lcp_ms'] or 0:5.0f} CLS {row[net]['cold']['cls']:.3f} "
                        f"{row[net]['cold']['kb']:5.1f}+{row[net]['cold']['chart_kb']:5.1f} KB/{row[net]['warm']['kb']:4.1f} KB "
                        f"{row[net]['cold']['requests']}/{row[net]['warm']['requests']} req"
                        for net in NETWORKS
                    )
                    + f"  axe {len(violations)}",
                    flush=True,
                )
            browser.close()
    misses = []
    for name, row in results.items():
        for net in NETWORKS:
            cold = row[net]["cold"]
            fcp_target = TARGETS["fcp_loopback_ms" if net == "loopback" else "fcp_throttled_ms"]
            if (cold["fcp_ms"] or 1e9) > fcp_target:
                misses.append(f"{name} {net}: FCP {cold['fcp_ms']:.0f} ms > {fcp_target}")
            if cold["kb"] > TARGETS["kb"]:
                misses.append(f"{name} {net}: {cold['kb']} KB > {TARGETS['kb']} (chart data apart)")
            if cold["chart_kb"] > TARGETS["chart_kb"]:
                misses.append(
                    f"{name} {net}: chart data {cold['chart_kb']} KB > {TARGETS['chart_kb']}"
                )
            if cold["cls"] > TARGETS["cls"]:
                misses.append(f"{name} {net}: CLS {cold['cls']} > {TARGETS['cls']}")
        if row["axe"]:
            misses.append(f"{name}: axe {row['axe']}")
    fcps = [
        r[n]["cold"]["fcp_ms"] for r in results.values() for n in NETWORKS if r[n]["cold"]["fcp_ms"]
    ]
    print(f"\nmedian cold FCP over pages and networks: {statistics.median(fcps):.0f} ms")
    print("targets missed:" if misses else "every target met", *misses, sep="\n  ")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "when": stamp,
        "load_before": load,
        "load_after": os.getloadavg(),
        "machine": platform.platform(),
        "hours": args.hours,
        "results": results,
        "misses": misses,
    }
    (out / f"web-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(
        f"load average before {load[0]:.1f}, after {os.getloadavg()[0]:.1f}; bench/out/web-{stamp}.json"
    )


if __name__ == "__main__":
    main()

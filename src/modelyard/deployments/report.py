"""Report artifacts of a deployment run: JSON, a self-contained HTML page and a 6-panel PNG.

``build_report`` reads what the deployment and its target recorded over the run (the store's
raw points, or 1-minute rollups for long runs), the tuning records, switches and alerts, and
summarises QPS and latency (mean, std, min, max, trend) and the prediction error on saturated
windows. ``write_report`` renders the PNG with matplotlib (Agg) and the HTML with an
autoescaping Jinja template, into the blob store under ``reports/deployments/<id>/``.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import statistics
from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session

from modelyard.deployments import service
from modelyard.deployments._engine import deployment_owner
from modelyard.kit.extras import needs
from modelyard.kit.time import utcnow
from modelyard.monitoring.store import MetricStore
from modelyard.storage import BlobStore
from modelyard.targets.service import target_owner

__all__ = ["FILES", "build_report", "report_key", "stored_kinds", "write_report"]

FILES = {"json": "report.json", "html": "report.html", "png": "report.png"}
_RAW_LIMIT_MS = 6 * 3_600_000


def report_key(deployment_id: int, kind: str) -> str:
    return f"reports/deployments/{int(deployment_id)}/{FILES[kind]}"


def stored_kinds(blobs: BlobStore, deployment_id: int) -> list[str]:
    """The report files of the deployment that are in the store (json, html, png)."""
    stored = {blob.key for blob in blobs.list(f"reports/deployments/{int(deployment_id)}")}
    return [kind for kind in FILES if report_key(deployment_id, kind) in stored]


def _stats(times: list[float], values: list[float]) -> dict[str, float | int | None]:
    """Mean, std, min, max and the least-squares trend (per minute and over the run)."""
    if not values:
        return {
            "count": 0,
            "mean": None,
            "std": None,
            "min": None,
            "max": None,
            "trend_per_minute": None,
            "trend_change_pct": None,
        }
    mean = statistics.fmean(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    slope = 0.0
    if len(values) > 2:
        mt = statistics.fmean(times)
        var = sum((t - mt) ** 2 for t in times)
        if var > 0:
            slope = sum((t - mt) * (v - mean) for t, v in zip(times, values, strict=True)) / var
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "count": len(values),
        "mean": mean,
        "std": std,
        "min": min(values),
        "max": max(values),
        "trend_per_minute": slope * 60_000.0,
        "trend_change_pct": (slope * span / mean * 100.0) if mean else None,
    }


def _errors(series: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    errors = series.get("error_pct", {}).get("avg", [])
    violations = series.get("censored_violation_pct", {}).get("avg", [])
    covered = series.get("interval_covered", {}).get("avg", [])
    censored = series.get("lower_bound_smax", {}).get("avg", [])
    absolute = [abs(e) for e in errors]
    return {
        "saturated_windows": len(errors),
        "median_abs_error_pct": statistics.median(absolute) if absolute else None,
        "mean_abs_error_pct": statistics.fmean(absolute) if absolute else None,
        "bias_pct": statistics.fmean(errors) if errors else None,
        "p90_abs_error_pct": sorted(absolute)[int(0.9 * (len(absolute) - 1))] if absolute else None,
        "censored_windows": len(censored),
        "censored_violations": len(violations),
        "interval_windows": len(covered),
        "interval_coverage_pct": statistics.fmean(covered) * 100.0 if covered else None,
    }


def build_report(session: Session, store: MetricStore, ref: str | int) -> dict[str, Any]:
    deployment = service.get_deployment(session, ref)
    row = service.deployment_out(session, deployment).model_dump()
    start = int(deployment.created_at.timestamp() * 1000)
    end = int((deployment.stopped_at or utcnow()).timestamp() * 1000)
    step = 0 if end - start <= _RAW_LIMIT_MS else 60_000
    own = store.query(
        deployment_owner(deployment.id), from_ms=start, to_ms=end, step_ms=step
    ).series
    target = store.query(
        target_owner(deployment.target_id), from_ms=start, to_ms=end, step_ms=step
    ).series

    def column(
        series: dict[str, dict[str, list[float]]], name: str
    ) -> tuple[list[float], list[float]]:
        cols = series.get(name, {"t": [], "avg": []})
        return [float(t) for t in cols["t"]], [float(v) for v in cols["avg"]]

    qps_t, qps = column(target, "ops_per_sec")
    p99_t, p99 = column(target, "latency_p99_us")
    p50_t, p50 = column(target, "latency_p50_us")
    tuning = [record.model_dump() for record in service.list_tuning(session, deployment.id)]
    return {
        "generated_at": utcnow().isoformat(),
        "deployment": row,
        "run": {"from_ms": start, "to_ms": end, "step_ms": step, "seconds": (end - start) / 1000},
        "performance": {
            "qps": _stats(qps_t, qps),
            "latency_p50_us": _stats(p50_t, p50),
            "latency_p99_us": _stats(p99_t, p99),
            "prediction": _errors(own),
        },
        "tuning_records": tuning,
        "switches": [s.model_dump() for s in service.list_switches(session, deployment.id)],
        "alerts": [a.model_dump() for a in service.list_alerts(session, deployment.id)],
        "series": {"deployment": own, "target": target},
    }


def _png(report: dict[str, Any]) -> bytes:
    with needs("reports"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    own = report["series"]["deployment"]
    target = report["series"]["target"]
    t0 = report["run"]["from_ms"]

    def xy(series: dict[str, Any], name: str) -> tuple[list[float], list[float]]:
        cols = series.get(name)
        if not cols:
            return [], []
        return [(t - t0) / 1000 for t in cols["t"]], list(cols["avg"])

    fig, axes = plt.subplots(3, 2, figsize=(13, 11))
    name = report["deployment"]["name"]
    fig.suptitle(
        f"Deployment {name}: {report['deployment']['serving_version'] or '-'} on {report['deployment']['target']}"
    )

    ax = axes[0][0]
    ax.plot(*xy(target, "ops_per_sec"), label="achieved", lw=1)
    ax.plot(*xy(target, "offered_ops_per_sec"), label="offered", lw=1, ls="--")
    ax.set_title("QPS trend")
    ax.set_ylabel("ops/s")

    ax = axes[0][1]
    for metric, label in (("latency_p50_us", "p50"), ("latency_p99_us", "p99")):
        ax.plot(*xy(target, metric), label=label, lw=1)
    ax.set_title("Latency trend")
    ax.set_ylabel("µs")
    ax.set_yscale("symlog")

    ax = axes[1][0]
    ax.plot(*xy(target, "cpu_process_cores"), label="process cores", lw=1)
    ax.plot(*xy(target, "cpu_available_cores"), label="available cores", lw=1)
    ax.plot(*xy(target, "cpu_steal_fraction"), label="steal fraction", lw=1)
    ax.set_title("CPU and memory")
    ax.set_ylabel("cores")
    memory = ax.twinx()
    mt, mv = xy(target, "memory_rss_bytes")
    memory.plot(mt, [v / 2**20 for v in mv], color="grey", lw=1, label="RSS MiB")
    memory.set_ylabel("MiB")

    ax = axes[1][1]
    for metric, label in (
        ("disk_write_bytes_per_sec", "disk write"),
        ("disk_read_bytes_per_sec", "disk read"),
        ("flush_bytes_per_sec", "flush"),
        ("compaction_write_bytes_per_sec", "compaction write"),
    ):
        t, v = xy(target, metric)
        ax.plot(t, [x / 2**20 for x in v], label=label, lw=1)
    ax.set_title("I/O and compaction")
    ax.set_ylabel("MiB/s")
    pending = ax.twinx()
    pt, pv = xy(target, "pending_compaction_bytes")
    pending.plot(pt, [x / 2**20 for x in pv], color="black", lw=0.8, ls=":", label="pending MiB")
    pending.set_ylabel("pending compaction MiB")

    ax = axes[2][0]
    ax.plot(*xy(own, "predicted_smax"), label="predicted S_max", lw=1.2)
    bt, low = xy(own, "predicted_smax_p10")
    _, high = xy(own, "predicted_smax_p90")
    if low and len(low) == len(high):
        ax.fill_between(bt, low, high, alpha=0.2, color="tab:blue", label="p10-p90", lw=0)
    at, av = xy(own, "actual_smax")
    ax.scatter(at, av, s=8, color="tab:red", label="measured (saturated windows)", zorder=3)
    lt, lv = xy(own, "lower_bound_smax")
    ax.scatter(lt, lv, s=6, marker="^", color="tab:green", label="lower bound (censored)", zorder=2)
    ax.set_title("Predicted against actual")
    ax.set_ylabel("ops/s")

    ax = axes[2][1]
    qps = [v for v in target.get("ops_per_sec", {}).get("avg", []) if math.isfinite(v)]
    if qps:
        ax.hist(qps, bins=min(40, max(5, len(qps) // 4)), color="tab:blue", alpha=0.8)
    ax.set_title("QPS distribution")
    ax.set_xlabel("ops/s")
    ax.set_ylabel("intervals")

    for row in axes:
        for ax in row:
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="best")
    for ax in axes[2][0], axes[1][0], axes[1][1], axes[0][0], axes[0][1]:
        ax.set_xlabel("seconds since the deployment started")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deployment {{ d.name }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
img{max-width:100%}</style></head><body>
<h1>Deployment {{ d.name }}</h1>
<p>Model {{ d.model }} serving {{ d.serving_version or "-" }} on target {{ d.target }}; auto-tune {{ "on" if d.auto_tune else "off" }};
{{ "%.0f"|format(run.seconds) }} s from {{ start }} ({{ d.status }}).</p>
<h2>Performance</h2>
<table><tr><th>series</th><th>count</th><th>mean</th><th>std</th><th>min</th><th>max</th><th>trend /min</th><th>trend over run</th></tr>
{% for label, s in rows %}<tr><td>{{ label }}</td><td>{{ s.count }}</td><td>{{ fmt(s.mean) }}</td><td>{{ fmt(s.std) }}</td><td>{{ fmt(s.min) }}</td>
<td>{{ fmt(s.max) }}</td><td>{{ fmt(s.trend_per_minute) }}</td><td>{{ pct(s.trend_change_pct) }}</td></tr>{% endfor %}</table>
<h2>Prediction error</h2>
<table><tr><th>saturated windows</th><th>median |error|</th><th>mean |error|</th><th>p90 |error|</th><th>bias</th><th>censored windows</th><th>bound violations</th><th>p10-p90 coverage</th></tr>
<tr><td>{{ e.saturated_windows }}</td><td>{{ pct(e.median_abs_error_pct) }}</td><td>{{ pct(e.mean_abs_error_pct) }}</td><td>{{ pct(e.p90_abs_error_pct) }}</td>
<td>{{ pct(e.bias_pct) }}</td><td>{{ e.censored_windows }}</td><td>{{ e.censored_violations }}</td>
<td>{{ pct(e.interval_coverage_pct) }} of {{ e.interval_windows }}</td></tr></table>
<img alt="QPS, latency, CPU and memory, I/O and compaction, predicted against actual, QPS distribution" src="data:image/png;base64,{{ png }}">
<h2>Tuning records ({{ tuning|length }})</h2>
<table><tr><th>at</th><th>changed</th><th>error before</th><th>error after</th></tr>
{% for r in tuning[-50:] %}<tr><td>{{ r.at }}</td><td>{% for k, v in r.parameters_after.items() %}{{ k }}: {{ "%.4g"|format(r.parameters_before.get(k, 0)) }} &rarr; {{ "%.4g"|format(v) }}<br>{% endfor %}</td>
<td>{{ pct(r.error_before_pct) }}</td><td>{{ pct(r.error_after_pct) }}</td></tr>{% endfor %}</table>
<h2>Version switches</h2>
<table><tr><th>at</th><th>from</th><th>to</th><th>reason</th></tr>
{% for s in switches %}<tr><td>{{ s.at }}</td><td>{{ s.from_version or "-" }}</td><td>{{ s.to_version or "-" }}</td><td>{{ s.reason }}</td></tr>{% endfor %}</table>
<h2>Alerts</h2>
<table><tr><th>raised</th><th>kind</th><th>message</th><th>resolved</th></tr>
{% for a in alerts %}<tr><td>{{ a.raised_at }}</td><td>{{ a.kind }}</td><td>{{ a.message }}</td><td>{{ a.resolved_at or "open" }}</td></tr>{% endfor %}</table>
</body></html>
"""


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%" if value < 0 else f"{value:.1f}%"


def write_report(report: dict[str, Any], blobs: BlobStore) -> dict[str, str]:
    """Write report.json, report.png and report.html to the store; returns their keys."""
    deployment_id = int(report["deployment"]["id"])
    png = _png(report)
    keys = {kind: report_key(deployment_id, kind) for kind in FILES}
    blobs.put_bytes(keys["png"], png)
    blobs.put_bytes(keys["json"], json.dumps(report, default=str, indent=1).encode())
    env = Environment(autoescape=True)
    perf = report["performance"]
    html = env.from_string(_TEMPLATE).render(
        d=report["deployment"],
        run=report["run"],
        start=dt.datetime.fromtimestamp(report["run"]["from_ms"] / 1000, dt.UTC).isoformat(
            timespec="seconds"
        ),
        rows=[
            ("QPS (ops/s)", perf["qps"]),
            ("latency p50 (µs)", perf["latency_p50_us"]),
            ("latency p99 (µs)", perf["latency_p99_us"]),
        ],
        e=perf["prediction"],
        tuning=report["tuning_records"],
        switches=report["switches"],
        alerts=report["alerts"],
        png=base64.b64encode(png).decode(),
        fmt=_fmt,
        pct=_pct,
    )
    blobs.put_bytes(keys["html"], html.encode())
    return keys

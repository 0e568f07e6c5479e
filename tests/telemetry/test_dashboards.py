"""The Grafana dashboard and the Prometheus rules in deploy/ name only metrics that /metrics
exports, the rules pass ``promtool`` (Debian's prometheus package) where it is installed, and
the deployment metrics add up across processes in multiprocess mode."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Api

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "modelyard-live.json"
RULES = ROOT / "deploy" / "prometheus" / "modelyard.rules.yml"
METRIC = re.compile(r"\b(modelyard_[a-z0-9_]+)\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def _rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def _exported(text: str) -> set[str]:
    """Every series name the exposition can carry (a labelled metric not yet set has its
    HELP and TYPE lines only, which is enough to know the name)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_a_panel_or_rule_names_is_exported(admin: Api) -> None:
    response = admin.client.get("/metrics", headers=admin.headers)
    assert response.status_code == 200
    exported = _exported(response.text)
    exprs = _dashboard_exprs() + [rule["expr"] for rule in _rules()]
    named = {name for expr in exprs for name in METRIC.findall(expr)}
    assert len(named) >= 15
    missing = sorted(named - exported)
    assert not missing, f"named by a panel or rule but not in /metrics: {missing}"
    # the deployment series a panel shows are the ones the live loop sets
    for name in (
        "modelyard_deployment_predicted_smax",
        "modelyard_deployment_predicted_smax_p10",
        "modelyard_deployment_predicted_smax_p90",
        "modelyard_jobs_queued",
        "modelyard_job_queue_wait_seconds",
        "modelyard_evaluation_rows_total",
        "modelyard_drift_share_drifted",
    ):
        assert name in named and name in exported
    # recording rules are named level:metric:operation and never collide with a metric
    recorded = [rule["record"] for rule in _rules() if "record" in rule]
    assert recorded and all(name.count(":") == 2 for name in recorded)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_rules_pass_promtool() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


_WRITER = textwrap.dedent(
    """
    import sys
    from modelyard.deployments import _metrics
    predicted, tuned = float(sys.argv[1]), int(sys.argv[2])
    for _ in range(tuned):
        _metrics.observe("d1", "m/3", {"predicted": predicted}, 0.8, tuned=True)
    print("written", flush=True)
    sys.stdin.read()  # stay alive: "live" gauges only count live processes
    """
)


def test_deployment_metrics_across_two_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    writers = []
    try:
        for predicted, tuned in ((1000.0, 3), (2000.0, 2)):  # the second writes last
            proc = subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(predicted), str(tuned)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
            writers.append(proc)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
        labels = {"deployment": "d1", "model": "m", "version": "3"}
        # counters are summed over processes; a deployment's gauge is its latest value
        assert registry.get_sample_value("modelyard_deployment_tuning_updates_total", labels) == 5
        assert registry.get_sample_value("modelyard_deployment_predicted_smax", labels) == 2000
    finally:
        for proc in writers:
            proc.communicate("", timeout=30)

"""Each live target kind against the real thing, followed by the app's own live loop.

- ``rocksdb-embedded``: a RocksDB opened by a worker process (rocksdict) running a short
  rate-limited workload; the worker is killed mid-run and must be marked down with the reason,
  restarted, and its deployment must carry on.
- ``db_bench``: a 3-second db_bench run, followed to its end.
- ``prometheus``: a prometheus_client exporter this test serves on 127.0.0.1; it is shut down
  (down, with the scrape error) and served again on the same port (up, deployment resumes).

The process targets run once (on SQLite): what they measure does not depend on the database.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.conftest import Api
from tests.deployments._live import deployment, intervals_seen, linear_model, wait_for


def _target(api: Api, name: str) -> dict[str, Any]:
    response = api.get(f"/targets/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _metrics(api: Api, name: str) -> dict[str, Any]:
    response = api.get(
        f"/targets/{name}/metrics", params={"from": "-5m", "to": str(int(time.time()) + 60)}
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["series"])


def _deploy(api: Api, name: str, target: str, model: str) -> None:
    response = api.post(
        "/deployments",
        json={"name": name, "target": target, "model": model, "settings": {"window_intervals": 1}},
    )
    assert response.status_code == 201, response.text
    wait_for(
        lambda: deployment(api, name)["state"], lambda s: "following_since" in s, f"{name} followed"
    )


def _stop(api: Api, target: str, deployment_name: str | None = None) -> None:
    if deployment_name:
        api.post(f"/deployments/{deployment_name}/stop")
    assert api.post(f"/targets/{target}/stop").status_code == 200
    wait_for(lambda: _target(api, target)["status"], lambda s: s == "stopped", f"{target} stopped")


def _sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the process targets measure the same on both backends; SQLite covers them")


def test_embedded_rocksdb_target_dies_is_marked_down_and_resumes(
    editor: Api, app_client: TestClient, backend: str, unique: str
) -> None:
    _sqlite_only(backend)
    workload = {
        "phases": [{"rate": 3000, "value_size": 200, "batch_size": 50, "duration_seconds": 0}],
        "then": "hold",
        "options": {"write_buffer_size": 1 << 20},
    }
    created = editor.post(
        "/targets",
        json={
            "name": f"e-{unique}",
            "kind": "rocksdb-embedded",
            "interval_seconds": 0.5,
            "config": {"workload": workload},
        },
    )
    assert created.status_code == 201, created.text
    target_id = created.json()["id"]
    # the model reads the workload's configuration: 10 x value_size = 2,000 ops/s
    linear_model(editor, f"m-{unique}", [0.0])
    editor.post(
        f"/models/m-{unique}/versions",
        json={"flavor": "formula", "parameters": {"kind": "linear", "coef": {"value_size": 10.0}}},
    )
    _deploy(editor, f"d-{unique}", f"e-{unique}", f"m-{unique}/2")
    try:
        wait_for(
            lambda: _target(editor, f"e-{unique}")["status"],
            lambda s: s == "up",
            "embedded target up",
        )
        wait_for(
            lambda: intervals_seen(editor, f"d-{unique}"),
            lambda n: n >= 3,
            "three evaluated intervals",
        )
        series = _metrics(editor, f"e-{unique}")
        assert max(series["ops_per_sec"]["avg"]) > 500
        for name in (
            "latency_p50_us.put",
            "latency_p99_us",
            "cpu_process_cores",
            "cpu_available_cores",
            "cpu_steal_fraction",
            "memory_rss_bytes",
            "l0_files",
            "pending_compaction_bytes",
            "running_compactions",
            "user_bytes_per_sec",
            "stall_micros_per_sec",
        ):
            assert series[name]["t"], f"{name} was not recorded"
        last = deployment(editor, f"d-{unique}")["state"]["last"]
        assert last["predicted"] == 2000.0 and last["saturated"] is False
        # kill the worker process (only the one this target started)
        runner = app_client.app.state.live.supervisor.runners[target_id]  # type: ignore[attr-defined]
        pid = runner.adapter.pid
        os.kill(pid, signal.SIGKILL)
        down = wait_for(
            lambda: _target(editor, f"e-{unique}"), lambda t: t["status"] == "down", "marked down"
        )
        assert (
            f"pid {pid}" in down["status_reason"] and "killed by signal 9" in down["status_reason"]
        )
        alerts = editor.get(f"/deployments/d-{unique}/alerts").json()
        assert any(
            a["kind"] == "target_down" and "killed by signal 9" in a["message"] for a in alerts
        )
        # the live loop restarts it; the deployment carries on and the alert resolves
        before = intervals_seen(editor, f"d-{unique}")
        wait_for(lambda: _target(editor, f"e-{unique}")["status"], lambda s: s == "up", "back up")
        wait_for(
            lambda: intervals_seen(editor, f"d-{unique}"),
            lambda n: n >= before + 2,
            "deployment resumed",
        )
        alerts = editor.get(f"/deployments/d-{unique}/alerts").json()
        assert all(a["resolved_at"] is not None for a in alerts if a["kind"] == "target_down")
        assert runner.adapter.pid != pid
    finally:
        _stop(editor, f"e-{unique}", f"d-{unique}")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.dbbench
def test_db_bench_target_is_followed_to_the_end_of_its_run(
    editor: Api, backend: str, unique: str
) -> None:
    _sqlite_only(backend)
    created = editor.post(
        "/targets",
        json={
            "name": f"b-{unique}",
            "kind": "db_bench",
            "interval_seconds": 0.5,
            "config": {
                "duration_seconds": 3,
                "args": "--num=100000 --value_size=100 --write_buffer_size=1048576",
            },
        },
    )
    assert created.status_code == 201, created.text
    done = wait_for(
        lambda: _target(editor, f"b-{unique}"),
        lambda t: t["status"] == "stopped",
        "db_bench finished",
        timeout=60,
    )
    assert "finished its 3 s run" in done["status_reason"]
    series = _metrics(editor, f"b-{unique}")
    assert len(series["ops_per_sec"]["t"]) >= 2 and max(series["ops_per_sec"]["avg"]) > 1000
    assert series["l0_files"]["t"] and series["cpu_process_cores"]["t"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Exporter:
    """A small Prometheus exporter on 127.0.0.1 with a counter and a gauge."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.registry = CollectorRegistry()
        self.ops = Counter("app_operations", "operations done", registry=self.registry)
        self.offered = Gauge(
            "app_offered_rate", "operations per second offered", registry=self.registry
        )
        self.server: Any = None

    def serve(self) -> None:
        self.server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_prometheus_target_goes_down_with_the_exporter_and_resumes(
    editor: Api, unique: str
) -> None:
    exporter = Exporter()
    exporter.offered.set(1e9)  # far above what is done: saturated, capacity measured
    exporter.serve()
    try:
        created = editor.post(
            "/targets",
            json={
                "name": f"p-{unique}",
                "kind": "prometheus",
                "interval_seconds": 0.2,
                "config": {
                    "url": f"http://127.0.0.1:{exporter.port}/metrics",
                    "metrics": {
                        "ops_per_sec": {"metric": "app_operations_total", "type": "rate"},
                        "offered_ops_per_sec": {"metric": "app_offered_rate"},
                    },
                },
            },
        )
        assert created.status_code == 201, created.text
        linear_model(editor, f"m-{unique}", [500.0])
        _deploy(editor, f"d-{unique}", f"p-{unique}", f"m-{unique}/1")

        def work() -> int:
            exporter.ops.inc(100)
            return intervals_seen(editor, f"d-{unique}")

        wait_for(work, lambda n: n >= 3, "three scraped intervals")
        series = _metrics(editor, f"p-{unique}")
        assert series["ops_per_sec"]["t"] and series["offered_ops_per_sec"]["avg"][-1] == 1e9
        assert deployment(editor, f"d-{unique}")["state"]["last"]["saturated"] is True
        exporter.shutdown()
        down = wait_for(
            lambda: _target(editor, f"p-{unique}"), lambda t: t["status"] == "down", "marked down"
        )
        assert f"scraping http://127.0.0.1:{exporter.port}/metrics failed" in down["status_reason"]
        before = intervals_seen(editor, f"d-{unique}")
        exporter.serve()
        wait_for(lambda: _target(editor, f"p-{unique}")["status"], lambda s: s == "up", "back up")
        wait_for(work, lambda n: n >= before + 2, "deployment resumed")
        down_alerts = [
            a
            for a in editor.get(f"/deployments/d-{unique}/alerts").json()
            if a["kind"] == "target_down"
        ]
        assert len(down_alerts) == 1 and down_alerts[0]["resolved_at"] is not None
    finally:
        _stop(editor, f"p-{unique}", f"d-{unique}")
        exporter.shutdown()


def test_prometheus_target_on_a_host_not_allowed_is_never_scraped(editor: Api, unique: str) -> None:
    created = editor.post(
        "/targets",
        json={
            "name": f"x-{unique}",
            "kind": "prometheus",
            "config": {
                "url": "http://metrics.example:9100/metrics",
                "metrics": {"ops_per_sec": {"metric": "x"}},
            },
        },
    )
    assert created.status_code == 201
    down = wait_for(
        lambda: _target(editor, f"x-{unique}"), lambda t: t["status"] == "down", "refused"
    )
    assert "not in the live.scrape_hosts setting" in down["status_reason"]
    _stop(editor, f"x-{unique}")

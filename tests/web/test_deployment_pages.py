"""Deployment pages: the list, a deployment with its chart hooks and last interval, stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.conftest import csrf_of

pytest.importorskip("modelyard.deployments.endpoints")


@pytest.fixture
def deployment(editor: Api, model_name: str, unique: str) -> dict[str, Any]:
    r = editor.post(
        "/targets",
        json={"name": f"push-{unique}", "kind": "push", "config": {}, "start": False},
    )
    assert r.status_code == 201, r.text
    r = editor.post(
        "/deployments",
        json={"name": f"dep-{unique}", "target": f"push-{unique}", "model": f"{model_name}/1"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _write_intervals(app_client: TestClient, deployment: dict[str, Any], count: int) -> int:
    from modelyard.deployments._engine import deployment_owner
    from modelyard.targets.service import target_owner

    store = app_client.app.state.metric_store  # type: ignore[attr-defined]
    now_ms = int(time.time() * 1000) - count * 1000
    for i in range(count):
        ts = now_ms + i * 1000
        store.write(
            deployment_owner(deployment["id"]),
            [(ts, {"predicted_smax": 50_000.0 + i, "actual_smax": 48_000.0, "error_pct": 4.2})],
        )
        store.write(
            target_owner(deployment["target_id"]),
            [
                (
                    ts,
                    {
                        "ops_per_sec": 40_000.0 + i,
                        "latency_p99_us": 900.0,
                        "cpu_process_cores": 1.5,
                    },
                )
            ],
        )
    return now_ms


def test_list_and_page(
    browser_for: Callable[..., TestClient], app_client: TestClient, deployment: dict[str, Any]
) -> None:
    _write_intervals(app_client, deployment, 5)
    client = browser_for("viewer")
    listing = client.get("/deployments")
    assert listing.status_code == 200
    assert f'href="/deployments/{deployment["id"]}"' in listing.text

    page = client.get(f"/deployments/{deployment['id']}")
    assert page.status_code == 200
    text = page.text
    assert f'data-metrics="/api/deployments/{deployment["id"]}/metrics"' in text
    assert f'data-channel="deployment:{deployment["id"]}"' in text
    for chart in ("smax", "qps", "latency", "cpu", "error"):
        assert f'data-chart="{chart}"' in text
    assert "uPlot.iife.min.js" in text and "charts.js" in text
    assert "Stop this deployment" not in text  # a viewer
    # the page by name is the same deployment
    assert client.get(f"/deployments/{deployment['name']}").status_code == 200
    assert client.get("/deployments/no-such-deployment").status_code == 404

    # what the charts read: the deployment's and the target's series
    metrics = client.get(f"/api/deployments/{deployment['id']}/metrics?from=-5m&step=raw").json()
    assert len(metrics["series"]["predicted_smax"]["t"]) == 5
    assert metrics["target_series"]["latency_p99_us"]["avg"][0] == 900.0


def test_editor_stops_a_deployment(
    browser_for: Callable[..., TestClient], deployment: dict[str, Any], editor: Api
) -> None:
    viewer = browser_for("viewer")
    token = csrf_of(viewer.get("/deployments").text)
    r = viewer.post(f"/deployments/{deployment['id']}/stop", data={"csrf_token": token})
    assert r.status_code == 403
    client = browser_for("editor")
    page = client.get(f"/deployments/{deployment['id']}").text
    assert "Stop this deployment" in page
    # one click is not enough: the form must carry its confirmation
    r = client.post(
        f"/deployments/{deployment['id']}/stop",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 400 and "confirmation" in r.text
    assert editor.get(f"/deployments/{deployment['id']}").json()["status"] == "active"
    r = client.post(
        f"/deployments/{deployment['id']}/stop",
        data={"csrf_token": csrf_of(page), "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert editor.get(f"/deployments/{deployment['id']}").json()["status"] == "stopped"
    stopped = client.get(r.headers["location"]).text
    assert 'data-channel=""' in stopped and "Stop this deployment" not in stopped
    assert "Deployment stopped" in stopped  # the success message
    assert "Restart this deployment" in stopped
    viewer_page = viewer.get(f"/deployments/{deployment['id']}").text
    assert "Restart this deployment" not in viewer_page
    r = viewer.post(f"/deployments/{deployment['id']}/restart", data={"csrf_token": token})
    assert r.status_code == 403
    r = client.post(
        f"/deployments/{deployment['id']}/restart",
        data={"csrf_token": csrf_of(stopped)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=deployment-restarted")
    assert editor.get(f"/deployments/{deployment['id']}").json()["status"] == "active"


def test_saving_tuned_parameters_needs_some(
    browser_for: Callable[..., TestClient], deployment: dict[str, Any]
) -> None:
    client = browser_for("editor")
    token = csrf_of(client.get(f"/deployments/{deployment['id']}").text)
    r = client.post(f"/deployments/{deployment['id']}/tuned-version", data={"csrf_token": token})
    assert r.status_code == 409 and "no tuned parameters" in r.text
    r = client.post(
        f"/deployments/{deployment['id']}/tuned-version",
        data={"csrf_token": token, "alias": "9bad"},
    )
    assert r.status_code == 400


def test_metrics_sized_to_a_chart_keep_extremes(
    app_client: TestClient, deployment: dict[str, Any], editor: Api
) -> None:
    from modelyard.deployments._engine import deployment_owner

    store = app_client.app.state.metric_store  # type: ignore[attr-defined]
    now = int(time.time() * 1000)
    points = [(now - (600 - i) * 1000, {"predicted_smax": 40_000.123456 + i}) for i in range(600)]
    points[300] = (points[300][0], {"predicted_smax": 999_999.987654})  # one spike
    store.write(deployment_owner(deployment["id"]), points)
    _write_intervals(app_client, deployment, 3)
    r = editor.get(
        f"/deployments/{deployment['id']}/metrics",
        params=[
            ("from", "-11m"),
            ("points", "50"),
            ("digits", "4"),
            ("field", "avg"),
            ("field", "max"),
            ("name", "predicted_smax"),
            ("name", "latency_*"),
        ],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["step_ms"] >= 660_000 // 50 and body["step_ms"] % 1000 == 0
    own = body["series"]["predicted_smax"]
    assert set(own) == {"t", "avg", "max"}  # only the columns asked for
    assert len(own["t"]) <= 51
    assert max(own["max"]) == 1_000_000  # the spike survives, rounded to 4 digits
    assert all(len(repr(v).replace(".", "").rstrip("0")) <= 6 for v in own["avg"])
    assert set(body["target_series"]) == {"latency_p99_us"}  # the prefix, and nothing else

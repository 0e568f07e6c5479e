"""Deployments on a push target, through the API and the app's own live loop.

Each test pushes samples, waits until the live loop has evaluated them, and checks what the
deployment recorded. Versions are linear formulas with a constant prediction, so every number
checked here is known exactly.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import Api
from tests.deployments._live import (
    Pusher,
    deployment,
    intervals_seen,
    linear_model,
    push_target,
    wait_for,
)

FAST = {
    "window_intervals": 1,
    "error_intervals": 2,
    "headroom_intervals": 2,
    "selection_min": 3,
    "resolve_intervals": 1,
    "min_open_seconds": 0,
}


def _deploy(api: Api, name: str, target: str, model: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "target": target,
        "model": model,
        "settings": {**FAST, **extra.pop("settings", {})},
        **extra,
    }
    response = api.post("/deployments", json=body)
    assert response.status_code == 201, response.text
    # intervals before the live loop picked the deployment up are not its to evaluate
    wait_for(
        lambda: deployment(api, name)["state"], lambda s: "following_since" in s, f"{name} followed"
    )
    return dict(response.json())


def _push_and_wait(api: Api, pusher: Pusher, name: str, count: int, **metrics: float) -> None:
    before = intervals_seen(api, name)
    for _ in range(count):
        pusher.push(**metrics)
    wait_for(
        lambda: intervals_seen(api, name),
        lambda n: n >= before + count,
        f"{count} intervals of {name}",
    )


def _series(api: Api, name: str) -> dict[str, Any]:
    # pushed samples may be stamped a little ahead of the clock
    response = api.get(
        f"/deployments/{name}/metrics",
        params={"from": "-10m", "to": str(time.time() + 60), "step": "raw"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_unsaturated_intervals_are_censored_and_saturated_ones_measure(
    editor: Api, unique: str
) -> None:
    linear_model(editor, f"m-{unique}", [10_000.0])
    push_target(editor, f"t-{unique}")
    _deploy(editor, f"d-{unique}", f"t-{unique}", f"m-{unique}/1")
    pusher = Pusher(editor, f"t-{unique}")
    # the system kept up with 5,000 ops/s offered: S_max is at least 5,000, nothing more
    _push_and_wait(editor, pusher, f"d-{unique}", 3, ops_per_sec=5000, offered_ops_per_sec=5000)
    series = _series(editor, f"d-{unique}")["series"]
    assert series["lower_bound_smax"]["avg"][-1] == 5000
    assert "error_pct" not in series or series["error_pct"]["t"] == []
    assert series["headroom"]["avg"][-1] == pytest.approx(2.0)
    # 12,000 offered, only 8,000 done: saturated, S_max measured at 8,000
    _push_and_wait(editor, pusher, f"d-{unique}", 3, ops_per_sec=8000, offered_ops_per_sec=12000)
    series = _series(editor, f"d-{unique}")["series"]
    assert series["actual_smax"]["avg"][-1] == 8000
    assert series["error_pct"]["avg"][-1] == pytest.approx(25.0)
    last = deployment(editor, f"d-{unique}")["state"]["last"]
    assert last["saturated"] is True and last["predicted"] == 10_000
    # a prediction below what an unsaturated interval achieved is a violated bound
    linear_model(editor, f"low-{unique}", [4_000.0])
    _deploy(editor, f"dl-{unique}", f"t-{unique}", f"low-{unique}/1")
    _push_and_wait(editor, pusher, f"dl-{unique}", 2, ops_per_sec=5000, offered_ops_per_sec=5000)
    assert _series(editor, f"dl-{unique}")["series"]["censored_violation_pct"]["avg"][
        -1
    ] == pytest.approx(-20.0)


def test_promoting_an_alias_switches_the_deployment(editor: Api, unique: str) -> None:
    model = f"m-{unique}"
    linear_model(editor, model, [1_000.0, 2_000.0])
    assert editor.put(f"/models/{model}/aliases/production", json={"version": 1}).status_code in (
        200,
        201,
    )
    push_target(editor, f"t-{unique}")
    _deploy(editor, f"d-{unique}", f"t-{unique}", f"{model}@production")
    pusher = Pusher(editor, f"t-{unique}")
    _push_and_wait(editor, pusher, f"d-{unique}", 2, ops_per_sec=500, offered_ops_per_sec=500)
    assert deployment(editor, f"d-{unique}")["state"]["last"]["predicted"] == 1000
    assert editor.put(f"/models/{model}/aliases/production", json={"version": 2}).status_code in (
        200,
        201,
    )
    wait_for(
        lambda: (
            pusher.push(ops_per_sec=500, offered_ops_per_sec=500),
            deployment(editor, f"d-{unique}"),
        )[1],
        lambda d: d["serving_version"] == f"{model}/2" and d["state"]["last"]["predicted"] == 2000,
        "the switch to version 2",
    )
    switches = editor.get(f"/deployments/d-{unique}/switches").json()
    assert [(s["reason"], s["to_version"]) for s in switches] == [
        ("start", f"{model}/1"),
        ("alias_moved", f"{model}/2"),
    ]


def test_the_candidate_with_the_lowest_recent_error_serves(editor: Api, unique: str) -> None:
    linear_model(editor, f"m-{unique}", [5_000.0, 1_050.0])
    push_target(editor, f"t-{unique}")
    _deploy(editor, f"d-{unique}", f"t-{unique}", f"m-{unique}/1", candidates=[f"m-{unique}/2"])
    pusher = Pusher(editor, f"t-{unique}")
    # saturated at 1,000 ops/s: version 1 is 400% off, version 2 5%
    _push_and_wait(editor, pusher, f"d-{unique}", 5, ops_per_sec=1000, offered_ops_per_sec=2000)
    wait_for(
        lambda: deployment(editor, f"d-{unique}")["serving_version"],
        lambda v: v == f"m-{unique}/2",
        "selection",
    )
    switch = editor.get(f"/deployments/d-{unique}/switches").json()[-1]
    assert switch["reason"] == "lower_error"
    assert switch["detail"]["median_abs_error_pct"][f"m-{unique}/2"] == pytest.approx(5.0)


def test_alerts_for_prediction_error_and_low_headroom(
    editor: Api, viewer: Api, unique: str
) -> None:
    linear_model(editor, f"m-{unique}", [2_000.0])
    push_target(editor, f"t-{unique}")
    _deploy(
        editor, f"d-{unique}", f"t-{unique}", f"m-{unique}/1", settings={"error_threshold_pct": 50}
    )
    pusher = Pusher(editor, f"t-{unique}")
    # saturated at 1,000: +100% error; offered 1,900: headroom 2000/1900 < 1.2
    _push_and_wait(editor, pusher, f"d-{unique}", 3, ops_per_sec=1000, offered_ops_per_sec=1900)
    alerts = viewer.get(f"/deployments/d-{unique}/alerts").json()
    assert {a["kind"] for a in alerts} == {"prediction_error", "low_headroom"}
    assert all(a["resolved_at"] is None for a in alerts)
    # a saturated interval measures a small error: that alert resolves, headroom is still low
    _push_and_wait(editor, pusher, f"d-{unique}", 1, ops_per_sec=1900, offered_ops_per_sec=2100)
    state = {
        a["kind"]: a["resolved_at"] for a in viewer.get(f"/deployments/d-{unique}/alerts").json()
    }
    assert state["prediction_error"] is not None and state["low_headroom"] is None
    # an unsaturated interval with room to spare, even at the prediction's p10 (wide after
    # a +100% miss), resolves the headroom alert
    _push_and_wait(editor, pusher, f"d-{unique}", 2, ops_per_sec=500, offered_ops_per_sec=500)
    alerts = viewer.get(f"/deployments/d-{unique}/alerts").json()
    assert len(alerts) == 2 and all(a["resolved_at"] is not None for a in alerts)


def test_events_stream_as_server_sent_events(editor: Api, viewer: Api, unique: str) -> None:
    linear_model(editor, f"m-{unique}", [3_000.0])
    push_target(editor, f"t-{unique}")
    _deploy(editor, f"d-{unique}", f"t-{unique}", f"m-{unique}/1")
    pusher = Pusher(editor, f"t-{unique}")
    _push_and_wait(editor, pusher, f"d-{unique}", 2, ops_per_sec=1000, offered_ops_per_sec=1000)
    events = []
    with viewer.client.stream(
        "GET",
        f"/api/deployments/d-{unique}/events",
        params={"limit": 2, "timeout": 20},
        headers={**viewer.headers, "Last-Event-ID": "0"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert len(events) == 2
    assert events[0]["predicted_smax"] == 3000 and events[0]["achieved_ops_per_sec"] == 1000
    assert events[0]["ts_ms"] < events[1]["ts_ms"]


def test_push_validation_roles_and_target_metrics(
    editor: Api, viewer: Api, anonymous: Api, unique: str
) -> None:
    push_target(editor, f"t-{unique}")
    url = f"/targets/t-{unique}/metrics"
    bad = editor.post(url, json={"samples": [{"t": "yesterday", "metrics": {"ops_per_sec": 1}}]})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert "samples.0.t" in bad.json()["detail"]
    assert editor.post(url, json={"samples": []}).status_code == 422
    assert (
        editor.post(url, content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    )
    assert viewer.post(url, json={"samples": [{"t": 1.0, "metrics": {}}]}).status_code == 403
    assert anonymous.post(url, json={"samples": [{"t": 1.0, "metrics": {}}]}).status_code == 401
    accepted = editor.post(
        url,
        json={
            "samples": [
                {"t": 1.0, "metrics": {"x": 1}},
                {"t": "2100-01-01T00:00:00Z", "metrics": {"x": 2}},
            ]
        },
    )
    assert accepted.status_code == 202 and accepted.json()["skipped_samples"] == 2
    other = editor.post(
        "/targets",
        json={
            "name": f"p-{unique}",
            "kind": "prometheus",
            "start": False,
            "config": {
                "url": "http://127.0.0.1:9/metrics",
                "metrics": {"ops_per_sec": {"metric": "x"}},
            },
        },
    )
    assert other.status_code == 201
    assert (
        editor.post(
            f"/targets/p-{unique}/metrics", json={"samples": [{"t": 1.0, "metrics": {}}]}
        ).status_code
        == 409
    )
    assert viewer.post("/targets", json={"name": f"v-{unique}", "kind": "push"}).status_code == 403
    assert editor.post("/targets", json={"name": f"t-{unique}", "kind": "push"}).status_code == 409
    assert (
        editor.post(
            "/deployments",
            json={"name": f"d-{unique}", "target": f"t-{unique}", "model": "no-such-model"},
        ).status_code
        == 404
    )


def test_tuned_parameters_are_saved_as_a_new_version(editor: Api, unique: str) -> None:
    linear_model(editor, f"m-{unique}", [2_000.0])
    push_target(editor, f"t-{unique}")
    _deploy(
        editor,
        f"d-{unique}",
        f"t-{unique}",
        f"m-{unique}/1",
        auto_tune=True,
        settings={"tune_every": 2},
    )
    pusher = Pusher(editor, f"t-{unique}")
    assert editor.post(f"/deployments/d-{unique}/tuned-version", json={}).status_code == 409
    # saturated at 1,000 while the version says 2,000: the correction moves toward 0.5
    _push_and_wait(editor, pusher, f"d-{unique}", 8, ops_per_sec=1000, offered_ops_per_sec=3000)
    records = editor.get(f"/deployments/d-{unique}/tuning").json()
    assert records, "no tuning record"
    first = records[0]
    assert (
        first["parameters_after"]["live_correction"]
        < first["parameters_before"]["live_correction"]
        == 1.0
    )
    assert first["evidence"]["observations"]["correction"] >= 1
    later = [r for r in records if r["error_before_pct"] is not None]
    assert later and later[-1]["error_after_pct"] < later[-1]["error_before_pct"]
    created = editor.post(f"/deployments/d-{unique}/tuned-version", json={"alias": "tuned"})
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["version"] == 2 and version["parameters"]["live_correction"] < 1.0
    assert version["parameters"]["intercept"] == 2000.0
    stopped = editor.post(f"/deployments/d-{unique}/stop")
    assert stopped.json()["status"] == "stopped"
    assert editor.delete(f"/deployments/d-{unique}").status_code == 204


def test_report_artifacts_of_a_run(editor: Api, viewer: Api, unique: str) -> None:
    linear_model(editor, f"m-{unique}", [1_500.0])
    push_target(editor, f"t-{unique}")
    _deploy(editor, f"d-{unique}", f"t-{unique}", f"m-{unique}/1")
    pusher = Pusher(editor, f"t-{unique}")
    assert viewer.get(f"/deployments/d-{unique}/report/html").status_code == 404
    for ops in (900, 1000, 1100, 1200):
        _push_and_wait(
            editor,
            pusher,
            f"d-{unique}",
            1,
            ops_per_sec=ops,
            offered_ops_per_sec=2000,
            latency_p50_us=100,
            latency_p99_us=900,
            cpu_process_cores=0.5,
        )
    assert viewer.post(f"/deployments/d-{unique}/report").status_code == 403
    made = editor.post(f"/deployments/d-{unique}/report")
    assert made.status_code == 201, made.text
    performance = made.json()["performance"]
    assert performance["qps"]["count"] == 4 and performance["qps"]["mean"] == pytest.approx(1050)
    assert performance["qps"]["min"] == 900 and performance["qps"]["max"] == 1200
    assert performance["qps"]["trend_per_minute"] > 0
    assert performance["prediction"]["saturated_windows"] == 4
    assert performance["prediction"]["median_abs_error_pct"] == pytest.approx(
        (50 + 36.36) / 2, rel=1e-3
    )
    png = viewer.get(f"/deployments/d-{unique}/report/png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    html = viewer.get(f"/deployments/d-{unique}/report/html")
    assert (
        html.status_code == 200 and "Predicted against actual" not in html.text
    )  # the figure is an image
    assert f"Deployment d-{unique}" in html.text and "data:image/png;base64," in html.text
    assert "script-src" not in html.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in html.headers["content-security-policy"]
    assert html.headers["x-content-type-options"] == "nosniff"
    document = viewer.get(f"/deployments/d-{unique}/report/json").json()
    assert document["series"]["deployment"]["predicted_smax"]["avg"] == [1500.0] * 4

"""Alerts end to end: rules fire from real psutil readings and resolve, ``for`` durations
count from explicit clocks, webhooks reach a real local HTTP receiver (and a failing one is
recorded as failed), deployment alerts share the list, roles and validation are enforced."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.alerts._readings import quantile_from_buckets
from modelyard.alerts.evaluator import Evaluator
from modelyard.config import Settings
from modelyard.deployments._alerts import raise_alert, resolve_alerts
from modelyard.kit.db import Database
from modelyard.kit.time import utcnow
from modelyard.models import Deployment, Target
from modelyard.webhooks.delivery import deliver_due
from tests.conftest import Api
from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def failing_receiver() -> Iterator[Receiver]:
    r = Receiver(status=500)
    yield r
    r.close()


@pytest.fixture
def evaluator(database: Database, settings: Settings) -> Iterator[Evaluator]:
    """An evaluator limited to the rules a test adds (the seeded defaults are left alone);
    it hands its host and fleet leases back afterwards, so the next test's evaluator leads."""
    own = settings.model_copy(deep=True)
    own.webhooks.attempts = 2
    own.webhooks.retry_backoff_seconds = 0.0
    ev = Evaluator(database, own)
    ev.only_rules = set()
    yield ev
    ev.release_leases()


@pytest.fixture
def channels(admin: Api) -> Iterator[list[int]]:
    """Channels a test creates; deleted afterwards so other tests' events do not reach them."""
    created: list[int] = []
    yield created
    for channel_id in created:
        admin.delete(f"/alerts/channels/{channel_id}")


def make_rule(admin: Api, evaluator: Evaluator, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "metric": "memory_percent", "threshold": 0.01, **fields}
    response = admin.post("/alerts/rules", json=body)
    assert response.status_code == 201, response.text
    rule = response.json()
    assert evaluator.only_rules is not None
    evaluator.only_rules.add(rule["id"])
    return rule


def events_of(api: Api, rule_id: int, **params: str) -> list[dict[str, Any]]:
    response = api.get("/alerts", params={"limit": "500", **params})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["rule_id"] == rule_id]


def test_rule_fires_from_real_memory_reading_and_resolves_when_raised(
    admin: Api, viewer: Api, evaluator: Evaluator, unique: str
) -> None:
    rule = make_rule(admin, evaluator, f"mem-low-{unique}")
    result = evaluator.tick(deliver=False)
    assert len(result.fired) == 1
    reading = next(iter(result.readings["memory_percent:host"].values()))
    assert 0 < reading <= 100

    opened = events_of(viewer, rule["id"], state="open", source="system")
    assert [e["id"] for e in opened] == result.fired
    event = opened[0]
    assert event["rule"] == rule["name"] and event["kind"] == "memory_percent"
    assert event["value"] == pytest.approx(reading) and event["threshold"] == 0.01
    assert event["deployment_id"] is None and event["resolved_at"] is None

    # still true: no second event on later ticks
    assert evaluator.tick(deliver=False).fired == []
    assert len(events_of(viewer, rule["id"], state="open")) == 1

    # memory cannot be above 100%: the condition clears and the event resolves
    assert admin.patch(f"/alerts/rules/{rule['id']}", json={"threshold": 100}).status_code == 200
    result = evaluator.tick(deliver=False)
    assert result.resolved == [event["id"]]
    assert events_of(viewer, rule["id"], state="open") == []
    resolved = events_of(viewer, rule["id"], state="resolved")
    assert resolved[0]["id"] == event["id"] and resolved[0]["resolved_at"] is not None


def test_process_scope_and_cpu_need_two_readings(
    admin: Api, evaluator: Evaluator, unique: str
) -> None:
    rss = make_rule(admin, evaluator, f"rss-{unique}", metric="rss_mb", scope="process")
    cpu = make_rule(admin, evaluator, f"cpu-{unique}", metric="cpu_percent", threshold=-1)
    now = time.time()
    first = evaluator.tick(now, deliver=False)
    assert "cpu_percent:host" not in first.readings  # CPU is a difference of two readings
    assert len(first.fired) == 1
    sum(range(2_000_000))  # some CPU time between the readings
    second = evaluator.tick(now + 1.0, deliver=False)
    assert len(second.fired) == 1
    subject = next(iter(first.readings["rss_mb:process"]))
    assert subject.endswith(f"/{__import__('os').getpid()}")
    for rule in (rss, cpu):
        admin.delete(f"/alerts/rules/{rule['id']}")


def test_for_duration_must_hold_before_firing(
    admin: Api, viewer: Api, evaluator: Evaluator, unique: str
) -> None:
    rule = make_rule(admin, evaluator, f"mem-for-{unique}", for_seconds=300)
    t0 = time.time()
    assert evaluator.tick(t0, deliver=False).fired == []
    assert evaluator.tick(t0 + 150, deliver=False).fired == []
    assert evaluator.tick(t0 + 299, deliver=False).fired == []
    assert events_of(viewer, rule["id"]) == []
    fired = evaluator.tick(t0 + 300, deliver=False).fired
    assert len(fired) == 1
    event = events_of(viewer, rule["id"], state="open")[0]
    assert event["detail"]["for_seconds"] == 300
    assert dt.datetime.fromisoformat(event["detail"]["holding_since"]).timestamp() == (
        pytest.approx(t0, abs=1e-3)
    )

    # an edit restarts the count, like a changed Prometheus rule
    admin.patch(f"/alerts/rules/{rule['id']}", json={"threshold": 100})
    assert len(evaluator.tick(t0 + 310, deliver=False).resolved) == 1
    admin.patch(f"/alerts/rules/{rule['id']}", json={"threshold": 0.01})
    assert evaluator.tick(t0 + 320, deliver=False).fired == []
    assert evaluator.tick(t0 + 619, deliver=False).fired == []
    assert len(evaluator.tick(t0 + 620, deliver=False).fired) == 1


def test_two_evaluators_open_one_event(
    admin: Api,
    viewer: Api,
    database: Database,
    settings: Settings,
    evaluator: Evaluator,
    unique: str,
) -> None:
    rule = make_rule(admin, evaluator, f"mem-twice-{unique}")
    other = Evaluator(database, settings)
    other.only_rules = {rule["id"]}
    fired = evaluator.tick(deliver=False).fired + other.tick(deliver=False).fired
    assert len(fired) == 1
    assert len(events_of(viewer, rule["id"], state="open")) == 1


def test_webhook_and_slack_receive_firing_and_resolved(
    admin: Api,
    viewer: Api,
    evaluator: Evaluator,
    receiver: Receiver,
    channels: list[int],
    unique: str,
) -> None:
    for kind in ("webhook", "slack"):
        response = admin.post(
            "/alerts/channels",
            json={"name": f"{kind}-{unique}", "kind": kind, "url": receiver.url},
        )
        assert response.status_code == 201, response.text
        channels.append(response.json()["id"])
    rule = make_rule(admin, evaluator, f"mem-hook-{unique}", severity="critical")

    result = evaluator.tick()
    assert len(result.fired) == 1 and result.delivered >= 2
    mine = [b for b in receiver.received if "alert" in b and b["alert"]["rule_id"] == rule["id"]]
    assert len(mine) == 1
    assert mine[0]["status"] == "firing"
    assert mine[0]["alert"]["severity"] == "critical"
    assert mine[0]["alert"]["id"] == result.fired[0]
    slack = [b for b in receiver.received if "text" in b and rule["name"] in b["text"]]
    assert len(slack) == 1 and slack[0]["text"].startswith("[FIRING] critical:")

    deliveries = viewer.get(f"/alerts/{result.fired[0]}/deliveries").json()
    assert {(d["channel"], d["status"], d["attempts"]) for d in deliveries} == {
        (f"webhook-{unique}", "sent", 1),
        (f"slack-{unique}", "sent", 1),
    }

    admin.patch(f"/alerts/rules/{rule['id']}", json={"threshold": 100})
    evaluator.tick()
    statuses = [
        b["status"] for b in receiver.received if b.get("alert", {}).get("rule_id") == rule["id"]
    ]
    assert statuses == ["firing", "resolved"]
    assert any(b.get("text", "").startswith("[RESOLVED]") for b in receiver.received)


def test_alertmanager_channel_posts_v2_alerts(
    admin: Api,
    viewer: Api,
    evaluator: Evaluator,
    receiver: Receiver,
    channels: list[int],
    unique: str,
) -> None:
    # the channel names the server; the alerts go to its v2 API
    base = receiver.url.removesuffix("/hook")
    response = admin.post(
        "/alerts/channels",
        json={"name": f"am-{unique}", "kind": "alertmanager", "url": base},
    )
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "alertmanager"
    channels.append(response.json()["id"])
    rule = make_rule(admin, evaluator, f"mem-am-{unique}", severity="critical")

    def posted() -> list[dict[str, Any]]:
        return [
            alert
            for request in receiver.requests
            if request.path == "/api/v2/alerts"
            for alert in request.json
            if alert["labels"].get("rule") == rule["name"]
        ]

    fired = evaluator.tick().fired
    assert len(fired) == 1
    [firing] = posted()
    assert firing["labels"]["alertname"] == "memory_percent"
    assert firing["labels"]["severity"] == "critical" and firing["labels"]["source"] == "system"
    assert firing["annotations"]["event_id"] == str(fired[0])
    starts = dt.datetime.fromisoformat(firing["startsAt"])
    assert dt.datetime.fromisoformat(firing["endsAt"]) > starts + dt.timedelta(hours=1)
    request = next(r for r in receiver.requests if r.path == "/api/v2/alerts")
    assert request.headers["content-type"] == "application/json"

    admin.patch(f"/alerts/rules/{rule['id']}", json={"threshold": 100})
    evaluator.tick()
    first, resolved = posted()
    assert resolved["labels"] == first["labels"] and resolved["startsAt"] == first["startsAt"]
    ends = dt.datetime.fromisoformat(resolved["endsAt"])
    assert starts <= ends <= dt.datetime.now(dt.UTC)
    deliveries = viewer.get(f"/alerts/{fired[0]}/deliveries").json()
    assert {(d["channel"], d["status"]) for d in deliveries} == {(f"am-{unique}", "sent")}


def test_failing_receiver_is_retried_then_recorded_as_failed(
    admin: Api,
    viewer: Api,
    evaluator: Evaluator,
    failing_receiver: Receiver,
    channels: list[int],
    unique: str,
) -> None:
    response = admin.post(
        "/alerts/channels", json={"name": f"failing-{unique}", "url": failing_receiver.url}
    )
    channels.append(response.json()["id"])
    # nothing listens on this port once the probe socket is closed
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead_port = probe.getsockname()[1]
    probe.close()
    response = admin.post(
        "/alerts/channels",
        json={"name": f"dead-{unique}", "url": f"http://127.0.0.1:{dead_port}/hook"},
    )
    channels.append(response.json()["id"])
    rule = make_rule(admin, evaluator, f"mem-fail-{unique}")

    event_id = evaluator.tick().fired[0]
    first = {d["channel"]: d for d in viewer.get(f"/alerts/{event_id}/deliveries").json()}
    assert first[f"failing-{unique}"]["status"] == "pending"  # one attempt left
    assert first[f"failing-{unique}"]["attempts"] == 1

    deliver_due(evaluator.db, evaluator.settings.webhooks, now=utcnow() + dt.timedelta(minutes=1))
    final = {d["channel"]: d for d in viewer.get(f"/alerts/{event_id}/deliveries").json()}
    failing, dead = final[f"failing-{unique}"], final[f"dead-{unique}"]
    assert failing["status"] == "failed" and failing["attempts"] == 2
    assert failing["response_status"] == 500 and "HTTP 500" in failing["last_error"]
    assert dead["status"] == "failed" and dead["response_status"] is None
    assert "ConnectError" in dead["last_error"]
    assert len([b for b in failing_receiver.received if b["alert"]["rule_id"] == rule["id"]]) == 2


def test_deployment_alerts_share_the_list_and_are_acknowledged(
    database: Database, admin: Api, editor: Api, viewer: Api, unique: str
) -> None:
    with database.session() as session:
        target = Target(name=f"t-{unique}", kind="push", desired_state="stopped", created_by="test")
        session.add(target)
        session.flush()
        deployment = Deployment(
            name=f"d-{unique}",
            target_id=target.id,
            model_ref="m/1",
            status="stopped",
            created_by="test",
        )
        session.add(deployment)
        session.flush()
        deployment_id = deployment.id
    for _ in range(2):
        with database.session() as session:
            raise_alert(session, deployment_id, "prediction_error", "error above 25%", {"e": 30})

    listed = [
        e
        for e in viewer.get("/alerts", params={"source": "deployment", "state": "open"}).json()[
            "items"
        ]
        if e["deployment_id"] == deployment_id
    ]
    assert len(listed) == 1
    event = listed[0]
    assert event["deployment"] == f"d-{unique}" and event["kind"] == "prediction_error"
    own = viewer.get(f"/deployments/{deployment_id}/alerts").json()
    assert [a["id"] for a in own] == [event["id"]]

    assert viewer.post(f"/alerts/{event['id']}/ack").status_code == 403
    acked = editor.post(f"/alerts/{event['id']}/ack")
    assert acked.status_code == 200
    assert acked.json()["acknowledged_by"] == editor.user
    assert admin.post(f"/alerts/{event['id']}/ack").json()["acknowledged_by"] == editor.user

    with database.session() as session:
        resolve_alerts(session, deployment_id, "prediction_error")
    assert viewer.get(f"/alerts/{event['id']}").json()["resolved_at"] is not None
    assert viewer.get(f"/deployments/{deployment_id}/alerts", params={"open": "true"}).json() == []
    # deleting the deployment takes its events (and their deliveries) with it
    assert editor.delete(f"/deployments/{deployment_id}").status_code == 204
    assert viewer.get(f"/alerts/{event['id']}").status_code == 404


def test_event_list_filters_and_pages(
    admin: Api, viewer: Api, evaluator: Evaluator, unique: str
) -> None:
    for i in range(3):
        make_rule(admin, evaluator, f"mem-page-{i}-{unique}", severity="info")
    evaluator.tick(deliver=False)
    seen: list[int] = []
    cursor = None
    for _ in range(50):
        params = {"severity": "info", "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        page = viewer.get("/alerts", params=params).json()
        assert all(e["severity"] == "info" for e in page["items"])
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) >= 3
    bad = viewer.get("/alerts", params={"state": "closed"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "state"
    assert viewer.get("/alerts", params={"cursor": "garbage"}).status_code == 400


def test_roles(admin: Api, editor: Api, viewer: Api, anonymous: Api, unique: str) -> None:
    body = {"name": f"r-{unique}", "metric": "disk_percent", "threshold": 95}
    assert anonymous.get("/alerts").status_code == 401
    assert anonymous.get("/alerts/rules").status_code == 401
    assert viewer.post("/alerts/rules", json=body).status_code == 403
    assert editor.post("/alerts/rules", json=body).status_code == 403
    assert viewer.get("/alerts/channels").status_code == 403
    assert (
        editor.post(
            "/alerts/channels", json={"name": "x", "url": "http://127.0.0.1:9/"}
        ).status_code
        == 403
    )
    assert viewer.post("/alerts/evaluate").status_code == 403
    assert viewer.get("/alerts/rules").status_code == 200
    created = admin.post("/alerts/rules", json=body)
    assert created.status_code == 201
    rule_id = created.json()["id"]
    assert viewer.patch(f"/alerts/rules/{rule_id}", json={"threshold": 1}).status_code == 403
    assert viewer.delete(f"/alerts/rules/{rule_id}").status_code == 403
    assert admin.post("/alerts/rules", json=body).status_code == 409
    assert admin.delete(f"/alerts/rules/{rule_id}").status_code == 204
    assert admin.get(f"/alerts/rules/{rule_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "load_average", "threshold": 1}, "metric"),
        ({"metric": "disk_percent", "scope": "process", "threshold": 1}, "scope"),
        ({"metric": "cpu_percent", "threshold": "high"}, "threshold"),
        ({"metric": "cpu_percent", "threshold": 1, "for_seconds": -5}, "for_seconds"),
        ({"metric": "cpu_percent", "threshold": 1, "comparison": "=="}, "comparison"),
        ({"metric": "cpu_percent", "threshold": 1, "severity": "page"}, "severity"),
        ({"metric": "cpu_percent"}, "threshold"),
        ({"metric": "cpu_percent", "threshold": 1, "colour": "red"}, "colour"),
    ],
)
def test_bad_rule_input_names_the_field(
    admin: Api, unique: str, body: dict[str, Any], field: str
) -> None:
    response = admin.post("/alerts/rules", json={"name": f"bad-{unique}", **body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


def test_bad_channel_input_names_the_field(admin: Api, unique: str) -> None:
    response = admin.post(
        "/alerts/channels", json={"name": f"c-{unique}", "url": "ftp://example.org/x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "url"
    response = admin.post(
        "/alerts/channels",
        json={"name": f"c-{unique}", "url": "http://127.0.0.1:9/", "kind": "pager"},
    )
    assert response.json()["errors"][0]["field"] == "kind"


def test_default_rules_are_seeded(viewer: Api) -> None:
    rules = {r["name"]: r for r in viewer.get("/alerts/rules").json()}
    assert (
        rules["host-cpu-high"]["threshold"] == 90 and rules["host-cpu-high"]["for_seconds"] == 300
    )
    assert rules["api-latency-p99"]["metric"] == "request_latency_p99_ms"
    assert {"host-memory-high", "data-disk-full", "job-queue-wait"} <= set(rules)


def test_prometheus_exposes_alert_figures(admin: Api, evaluator: Evaluator, unique: str) -> None:
    make_rule(admin, evaluator, f"mem-prom-{unique}", severity="warning")
    evaluator.tick(deliver=False)
    text = admin.client.get("/metrics", headers=admin.headers).text
    assert 'modelyard_alerts_open{severity="warning",source="system"}' in text
    assert "modelyard_alerts_fired_total" in text


def test_p99_from_histogram_buckets() -> None:
    # 100 requests: 90 under 10 ms, 9 in (10, 100] ms, 1 in (100, 1000] ms
    buckets = [(0.01, 90.0), (0.1, 99.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert quantile_from_buckets(0.99, buckets) == pytest.approx(0.1)
    assert quantile_from_buckets(0.5, buckets) == pytest.approx(0.01 * 50 / 90)
    assert quantile_from_buckets(0.99, [(0.5, 0.0), (float("inf"), 0.0)]) is None
    assert quantile_from_buckets(0.99, [(0.5, 0.0), (float("inf"), 10.0)]) == 0.5


def test_latency_p99_reads_the_request_histogram(
    admin: Api, evaluator: Evaluator, unique: str
) -> None:
    rule = make_rule(
        admin,
        evaluator,
        f"p99-{unique}",
        metric="request_latency_p99_ms",
        scope="process",
        threshold=0,
        comparison=">=",
        window_seconds=60,
    )
    now = time.time()
    evaluator.tick(now, deliver=False)  # baseline snapshot
    for _ in range(evaluator.settings.alerts.min_requests + 5):
        assert admin.get("/alerts/rules").status_code == 200
    result = evaluator.tick(now + 70, deliver=False)
    values = result.readings["request_latency_p99_ms:process:60s"]
    assert len(values) == 1 and next(iter(values.values())) > 0
    assert len(result.fired) == 1
    # a quiet window has no p99: the event resolves rather than staying open on stale data
    result = evaluator.tick(now + 200, deliver=False)
    assert "request_latency_p99_ms:process:60s" not in result.readings
    assert len(result.resolved) == 1
    admin.delete(f"/alerts/rules/{rule['id']}")


def test_channel_hosts_are_limited_by_the_setting(admin: Api, unique: str) -> None:
    refused = admin.post(
        "/alerts/channels", json={"name": f"far-{unique}", "url": "https://example.org/hook"}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "url"

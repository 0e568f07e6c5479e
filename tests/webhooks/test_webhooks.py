"""Webhooks end to end: registry, evaluation and alert events reach a real HTTP receiver on
127.0.0.1, signed (checked with the README's own snippet), filtered by event and model; a 500
is retried with the same event id; the delivery log, test send, redelivery, the sender loop,
roles and validation."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.alerts import service as alerts_service
from modelyard.config import Settings
from modelyard.kit.db import Database
from modelyard.kit.time import utcnow
from modelyard.webhooks import verify as library_verify
from modelyard.webhooks.delivery import Sender, deliver_due
from tests.conftest import Api
from tests.evaluations.test_api import SMALL_CSV, dataset, evaluate, wait_for
from tests.receiver import Receiver

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify() -> Callable[..., bool]:
    """The verification snippet users copy from the README, run as written."""
    text = README.read_text()
    snippet = re.search(r"<!-- webhook-verify -->\n```python\n(.*?)```", text, re.S)
    assert snippet is not None, "the README lost its verification snippet"
    scope: dict[str, Any] = {}
    exec(snippet.group(1), scope)
    return scope["verify"]  # type: ignore[no-any-return]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooks(admin: Api) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create webhooks; deleted afterwards so that other tests' events do not reach them."""
    made: list[int] = []

    def make(**body: Any) -> dict[str, Any]:
        response = admin.post("/webhooks", json=body)
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
        return response.json()  # type: ignore[no-any-return]

    yield make
    for webhook_id in made:
        admin.delete(f"/webhooks/{webhook_id}")


def drain(database: Database, settings: Settings, now: dt.datetime | None = None) -> None:
    """Send everything due (other tests' deliveries may be queued ahead of ours)."""
    while sum(deliver_due(database, settings.webhooks, now=now)):
        pass


def _model_with_version(api: Api, name: str) -> None:
    assert api.post("/models", json={"name": name}).status_code == 201
    parameters = {"kind": "linear", "intercept": 3.0, "coef": {"a": 1.2}}
    r = api.post(f"/models/{name}/versions", json={"flavor": "formula", "parameters": parameters})
    assert r.status_code == 201, r.text


def test_events_are_signed_filtered_and_logged(
    admin: Api,
    editor: Api,
    database: Database,
    settings: Settings,
    receiver: Receiver,
    hooks: Callable[..., dict[str, Any]],
    unique: str,
) -> None:
    kept, other = f"keep-{unique}", f"other-{unique}"
    hook = hooks(
        name=f"ci-{unique}",
        url=receiver.url,
        events=["model.created", "version.created", "alias.*"],
        models=[f"keep-{unique}*"],
    )
    assert hook["secret"].startswith("whsec_") and hook["secret_hint"] == hook["secret"][-4:]
    quiet = hooks(name=f"evals-{unique}", url=receiver.url, events=["evaluation.finished"])

    _model_with_version(editor, kept)
    assert editor.put(f"/models/{kept}/aliases/production", json={"version": 1}).status_code == 200
    assert editor.put(f"/models/{kept}/aliases/production", json={"version": 1}).status_code == 200
    editor.patch(f"/models/{kept}", json={"description": "not an event"})
    _model_with_version(editor, other)
    drain(database, settings)

    mine = receiver.of(kept)
    assert [r.json["type"] for r in mine] == ["model.created", "version.created", "alias.moved"]
    assert receiver.of(other) == []
    check = readme_verify()
    for request in mine:
        header = request.headers["X-Modelyard-Signature"]
        assert check(hook["secret"], header, request.body)
        assert library_verify(hook["secret"], header, request.body)
        assert not check(hook["secret"], header, request.body.replace(b"keep", b"kept"))
        assert not check("whsec_another-secret-entirely", header, request.body)
        assert request.headers["X-Modelyard-Event"] == request.json["type"]
        assert request.json["id"].startswith("evt_")
    stamp = int(mine[0].headers["X-Modelyard-Signature"].split(",")[0][2:])
    assert not library_verify(
        hook["secret"], mine[0].headers["X-Modelyard-Signature"], mine[0].body, now=stamp + 301
    )
    version = mine[1].json["data"]
    assert version["model"] == kept and version["version"] == 1 and version["actor"] == editor.user
    assert mine[2].json["data"] | {"actor": None} == {
        "model": kept,
        "alias": "production",
        "version": 1,
        "previous": None,
        "protected": False,
        "actor": None,
    }

    log = admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [(d["event"], d["status"], d["attempts"], d["response_status"]) for d in log] == [
        ("alias.moved", "sent", 1, 200),
        ("version.created", "sent", 1, 200),
        ("model.created", "sent", 1, 200),
    ]
    assert all(d["duration_ms"] is not None for d in log)
    detail = admin.get(f"/webhooks/{hook['id']}/deliveries/{log[0]['id']}").json()
    assert detail["payload"]["alias"] == "production"
    assert admin.get(f"/webhooks/{quiet['id']}/deliveries").json()["items"] == []

    # an evaluation ending is the other webhook's event
    dataset_id = dataset(editor, f"data-{unique}", SMALL_CSV)
    created = evaluate(editor, model=kept, dataset=dataset_id, target="y")
    assert wait_for(editor, created["id"])["status"] == "succeeded"
    drain(database, settings)
    finished = [r.json for r in receiver.of(kept) if r.json["type"] == "evaluation.finished"]
    assert len(finished) == 1 and finished[0]["data"]["id"] == created["id"]
    assert finished[0]["data"]["status"] == "succeeded" and "mae" in finished[0]["data"]["metrics"]
    quiet_log = admin.get(f"/webhooks/{quiet['id']}/deliveries").json()["items"]
    assert [d["event"] for d in quiet_log] == ["evaluation.finished"]


def test_a_500_is_retried_with_the_same_event(
    admin: Api,
    editor: Api,
    database: Database,
    settings: Settings,
    hooks: Callable[..., dict[str, Any]],
    unique: str,
) -> None:
    flaky = Receiver(statuses=[500, 200])
    try:
        hook = hooks(name=f"flaky-{unique}", url=flaky.url, events=["model.created"])
        name = f"retried-{unique}"
        assert editor.post("/models", json={"name": name}).status_code == 201
        drain(database, settings)
        assert len(flaky.requests) == 1
        (first,) = admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
        assert first["status"] == "pending" and first["attempts"] == 1
        assert first["response_status"] == 500 and "HTTP 500" in first["last_error"]

        drain(database, settings)  # not due yet: the backoff holds it
        assert len(flaky.requests) == 1
        backoff = dt.timedelta(seconds=settings.webhooks.retry_backoff_seconds + 1)
        drain(database, settings, now=utcnow() + backoff)
        assert len(flaky.requests) == 2
        (final,) = admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
        assert final["status"] == "sent" and final["attempts"] == 2
        assert final["response_status"] == 200 and final["last_error"] is None
        bodies = [r.json for r in flaky.requests]
        assert bodies[0] == bodies[1] and bodies[0]["data"]["name"] == name
        for request in flaky.requests:
            assert library_verify(
                hook["secret"], request.headers["X-Modelyard-Signature"], request.body
            )
    finally:
        flaky.close()


def test_test_send_redeliver_and_a_failing_ping(
    admin: Api,
    database: Database,
    settings: Settings,
    receiver: Receiver,
    hooks: Callable[..., dict[str, Any]],
    unique: str,
) -> None:
    hook = hooks(name=f"ping-{unique}", url=receiver.url, events=["model.deleted"])
    ping = admin.post(f"/webhooks/{hook['id']}/test")
    assert ping.status_code == 200, ping.text
    assert ping.json()["status"] == "sent" and ping.json()["response_status"] == 200
    assert receiver.requests[-1].json["type"] == "ping"
    assert receiver.requests[-1].json["data"]["webhook"] == hook["name"]

    again = admin.post(f"/webhooks/{hook['id']}/deliveries/{ping.json()['id']}/redeliver")
    assert again.status_code == 202 and again.json()["event_id"] == ping.json()["event_id"]
    drain(database, settings)
    assert [r.json["id"] for r in receiver.requests] == [ping.json()["event_id"]] * 2

    failing = Receiver(statuses=[503])
    try:
        broken = hooks(name=f"broken-{unique}", url=failing.url)
        result = admin.post(f"/webhooks/{broken['id']}/test").json()
        assert result["status"] == "failed" and result["attempts"] == 1
        assert result["response_status"] == 503
    finally:
        failing.close()


def test_alerts_reach_webhooks_through_the_same_queue(
    admin: Api,
    database: Database,
    settings: Settings,
    receiver: Receiver,
    hooks: Callable[..., dict[str, Any]],
    unique: str,
) -> None:
    hook = hooks(name=f"alerts-{unique}", url=receiver.url, events=["alert.*"])
    by_model = hooks(name=f"models-only-{unique}", url=receiver.url, models=["*"])
    key = f"test:{unique}"
    with database.session() as session:
        alert_id = alerts_service.raise_event(
            session, source="system", kind="test", open_key=key, message=f"trouble {unique}"
        )
    with database.session() as session:
        alerts_service.resolve_event(session, key)
    drain(database, settings)
    mine = [r.json for r in receiver.requests if r.json["data"].get("id") == alert_id]
    assert [(b["type"], b["data"]["message"]) for b in mine] == [
        ("alert.fired", f"trouble {unique}"),
        ("alert.resolved", f"trouble {unique}"),
    ]
    assert mine[1]["data"]["resolved_at"] is not None
    log = admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
    assert {d["event"] for d in log} == {"alert.fired", "alert.resolved"}
    # an alert is about no model: a webhook filtered by model does not take it
    assert admin.get(f"/webhooks/{by_model['id']}/deliveries").json()["items"] == []


def test_the_sender_loop_delivers_without_being_asked(
    editor: Api,
    database: Database,
    settings: Settings,
    receiver: Receiver,
    hooks: Callable[..., dict[str, Any]],
    unique: str,
) -> None:
    hooks(name=f"loop-{unique}", url=receiver.url, events=["model.created"])
    own = settings.webhooks.model_copy(update={"poll_seconds": 0.05})
    sender = Sender(database, own).start()
    try:
        name = f"looped-{unique}"
        assert editor.post("/models", json={"name": name}).status_code == 201
        deadline = time.monotonic() + 30
        while not receiver.of(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.json["type"] for r in receiver.of(name)] == ["model.created"]
    finally:
        sender.stop()


def test_roles_validation_and_secret_rotation(
    admin: Api, editor: Api, receiver: Receiver, hooks: Callable[..., dict[str, Any]], unique: str
) -> None:
    assert editor.get("/webhooks").status_code == 403
    body = {"name": f"v-{unique}", "url": receiver.url}
    assert editor.post("/webhooks", json=body).status_code == 403
    bad = admin.post("/webhooks", json=body | {"events": ["model.renamed"]})
    assert bad.status_code == 422 and "model.renamed" in bad.text
    assert admin.post("/webhooks", json=body | {"url": "ftp://127.0.0.1/x"}).status_code == 422
    inward = admin.post("/webhooks", json=body | {"url": "http://10.1.2.3/hook"})
    assert inward.status_code == 422 and "webhooks.hosts" in inward.json()["detail"]
    assert admin.post("/webhooks", json=body | {"secret": "short"}).status_code == 422

    hook = hooks(**body, secret="a-secret-of-my-own-choosing")
    assert hook["secret"] == "a-secret-of-my-own-choosing"
    assert admin.post("/webhooks", json=body).status_code == 409
    shown = admin.get(f"/webhooks/{hook['id']}").json()
    assert "secret" not in shown and shown["secret_hint"] == "sing"
    rotated = admin.post(f"/webhooks/{hook['id']}/secret").json()
    assert rotated["secret"] != hook["secret"] and rotated["secret"].startswith("whsec_")
    changed = admin.patch(f"/webhooks/{hook['id']}", json={"enabled": False, "models": ["a-*"]})
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False and changed.json()["models"] == ["a-*"]
    names = [e["name"] for e in admin.get("/webhooks/events").json()]
    assert "alias.moved" in names and "evaluation.finished" in names
    assert admin.get("/webhooks/999999999").status_code == 404

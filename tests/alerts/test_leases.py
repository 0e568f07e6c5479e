"""One evaluator per host for host rules, one per installation for deployment rules: two
evaluators on one database and host, only the lease holder evaluates the shared rules while
both evaluate their own process; when the holder stops renewing (or hands over) the other
takes over. Also the fleet-wide ``prediction_error_pct`` rule over deployments' stored
recent errors. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from modelyard.alerts import _leases
from modelyard.alerts.evaluator import Evaluator
from modelyard.alerts.schemas import Scope
from modelyard.config import Settings
from modelyard.kit.db import Database
from modelyard.models import Deployment, ModelVersion, RegisteredModel, Target
from tests.alerts.test_alerts import events_of
from tests.conftest import Api


@pytest.fixture
def pair(database: Database, settings: Settings) -> Iterator[tuple[Evaluator, Evaluator]]:
    """Two evaluators as two server processes of one host would have, on one database."""
    first, second = Evaluator(database, settings), Evaluator(database, settings)
    first.only_rules, second.only_rules = set(), set()
    yield first, second
    first.release_leases()
    second.release_leases()


def add_rule(admin: Api, evaluators: tuple[Evaluator, ...], name: str, **fields: Any) -> int:
    body = {"name": name, "metric": "memory_percent", "threshold": 0.01, **fields}
    r = admin.post("/alerts/rules", json=body)
    assert r.status_code == 201, r.text
    for ev in evaluators:
        assert ev.only_rules is not None
        ev.only_rules.add(r.json()["id"])
    return int(r.json()["id"])


def test_lease_is_held_by_one_owner_until_it_lapses(database: Database) -> None:
    name = f"test:{uuid.uuid4().hex}"
    t0 = dt.datetime.now(dt.UTC)
    with database.session() as s:
        assert _leases.hold(s, name, "a", t0, 30)
    with database.session() as s:
        assert not _leases.hold(s, name, "b", t0 + dt.timedelta(seconds=29), 30)
        assert _leases.hold(s, name, "a", t0 + dt.timedelta(seconds=29), 30)  # renewed to 59
    with database.session() as s:
        assert not _leases.hold(s, name, "b", t0 + dt.timedelta(seconds=58), 30)
        assert _leases.hold(s, name, "b", t0 + dt.timedelta(seconds=60), 30)
        assert not _leases.hold(s, name, "a", t0 + dt.timedelta(seconds=61), 30)
        holder = _leases.holder(s, name)
    assert holder is not None and holder[0] == "b"
    with database.session() as s:
        _leases.release(s, name, "a")  # not a's: no effect
        assert not _leases.hold(s, name, "a", t0 + dt.timedelta(seconds=62), 30)
        _leases.release(s, name, "b")
        assert _leases.hold(s, name, "a", t0 + dt.timedelta(seconds=62), 30)


def test_only_the_host_leader_evaluates_host_rules_and_a_lapsed_lease_moves(
    admin: Api, viewer: Api, pair: tuple[Evaluator, Evaluator], unique: str
) -> None:
    first, second = pair
    assert first.readings.host == second.readings.host
    host_rule = add_rule(admin, pair, f"lease-host-{unique}")
    process_rule = add_rule(
        admin, pair, f"lease-rss-{unique}", metric="rss_mb", scope="process", threshold=0.01
    )
    t0 = time.time()

    a = first.tick(t0, deliver=False)
    b = second.tick(t0 + 1, deliver=False)
    assert Scope.host in a.leads and Scope.host not in b.leads
    assert "memory_percent:host" in a.readings and "memory_percent:host" not in b.readings
    # both read their process (here one pid, so one subject and one event between them)
    assert "rss_mb:process" in a.readings and "rss_mb:process" in b.readings
    assert len(a.fired) == 2 and b.fired == []
    [host_event] = events_of(viewer, host_rule, state="open")
    assert host_event["subject"] == first.readings.host
    [process_event] = events_of(viewer, process_rule, state="open")
    assert process_event["subject"] == first.readings.process_subject

    # the follower never resolves the leader's host event, however often it ticks
    for step in range(2, 5):
        assert second.tick(t0 + step, deliver=False).resolved == []
    assert len(events_of(viewer, host_rule, state="open")) == 1

    # the leader stops renewing: within the lease the other still waits, after it it leads
    assert Scope.host not in second.tick(t0 + first.lease_seconds - 1, deliver=False).leads
    took_over = second.tick(t0 + first.lease_seconds + 1, deliver=False)
    assert Scope.host in took_over.leads and "memory_percent:host" in took_over.readings
    assert took_over.fired == [] and took_over.resolved == []  # the same event carries on
    assert [e["id"] for e in events_of(viewer, host_rule, state="open")] == [host_event["id"]]
    # the old leader comes back and finds the lease taken
    assert Scope.host not in first.tick(t0 + first.lease_seconds + 2, deliver=False).leads

    # the new leader sees the condition clear and resolves the event
    assert admin.patch(f"/alerts/rules/{host_rule}", json={"threshold": 100}).status_code == 200
    cleared = second.tick(t0 + first.lease_seconds + 3, deliver=False)
    assert cleared.resolved == [host_event["id"]]

    # a clean stop hands over at once, without waiting for the lease to lapse
    second.stop()
    assert Scope.host in first.tick(t0 + first.lease_seconds + 4, deliver=False).leads


@pytest.fixture
def fleet(database: Database, unique: str) -> Iterator[dict[str, int]]:
    """Three deployments with recent errors as the deployment engine stores them: one far
    off, one close, one far off but stopped."""
    with database.session() as s:
        model = RegisteredModel(name=f"fleet-{unique}", created_by="test")
        s.add(model)
        s.flush()
        version = ModelVersion(model_id=model.id, version=1, flavor="smax", created_by="test")
        target = Target(
            name=f"fleet-{unique}", kind="push", desired_state="stopped", created_by="t"
        )
        s.add_all([version, target])
        s.flush()
        ids: dict[str, int] = {}
        for name, errors, status in [
            ("off", [40.0, 50.0, 60.0], "active"),
            ("close", [2.0, 3.0, 90.0], "active"),
            ("stopped", [80.0, 80.0, 80.0], "stopped"),
        ]:
            row = Deployment(
                name=f"{name}-{unique}",
                target_id=target.id,
                model_ref=f"{model.name}/1",
                status=status,
                serving_version_id=version.id,
                state={"errors": {str(version.id): errors}},
                created_by="test",
            )
            s.add(row)
            s.flush()
            ids[name] = row.id
    yield ids
    with database.session() as s:
        s.execute(sa.delete(Deployment).where(Deployment.id.in_(ids.values())))


def test_fleet_rule_on_prediction_error_fires_per_deployment(
    admin: Api,
    viewer: Api,
    database: Database,
    pair: tuple[Evaluator, Evaluator],
    fleet: dict[str, int],
    unique: str,
) -> None:
    first, second = pair
    r = admin.post(
        "/alerts/rules",
        json={
            "name": f"f-{unique}",
            "metric": "prediction_error_pct",
            "scope": "host",
            "threshold": 1,
        },
    )
    assert r.status_code == 422 and "deployment" in r.text
    rule = add_rule(
        admin, pair, f"fleet-error-{unique}", metric="prediction_error_pct", threshold=30
    )
    assert admin.get(f"/alerts/rules/{rule}").json()["scope"] == "deployment"

    t0 = time.time()
    a = first.tick(t0, deliver=False)
    b = second.tick(t0 + 1, deliver=False)
    assert Scope.deployment in a.leads and Scope.deployment not in b.leads and b.fired == []
    readings = a.readings["prediction_error_pct:deployment"]
    assert readings[f"off-{unique}"] == 50.0 and readings[f"close-{unique}"] == 3.0
    assert f"stopped-{unique}" not in readings
    [event] = events_of(viewer, rule, state="open")
    assert event["subject"] == f"off-{unique}" and event["value"] == 50.0
    assert "prediction_error_pct of deployment" in event["message"]

    # the deployment's recent windows improve: the leader resolves the event
    with database.session() as s:
        row = s.get(Deployment, fleet["off"])
        assert row is not None
        row.state = {"errors": {str(row.serving_version_id): [5.0, 6.0, 7.0]}}
    assert first.tick(t0 + 2, deliver=False).resolved == [event["id"]]

    # it worsens and then stops: no figure any more, so its event resolves
    with database.session() as s:
        row = s.get(Deployment, fleet["off"])
        assert row is not None
        row.state = {"errors": {str(row.serving_version_id): [70.0, 70.0, 70.0]}}
    assert len(first.tick(t0 + 3, deliver=False).fired) == 1
    with database.session() as s:
        s.execute(
            sa.update(Deployment).where(Deployment.id == fleet["off"]).values(status="stopped")
        )
    assert len(first.tick(t0 + 4, deliver=False).resolved) == 1
    assert events_of(viewer, rule, state="open") == []
    admin.delete(f"/alerts/rules/{rule}")

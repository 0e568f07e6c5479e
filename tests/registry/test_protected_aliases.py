"""Protected aliases: only admins, or a move whose version passes the alias's gate (real
evaluations on a real dataset), may move them; refusals are 409 problems naming the failed
check, and every move, allowed or refused, is in the audit log."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelyard.kit.db import Database
from modelyard.models import Evaluation
from tests.conftest import Api
from tests.evaluations.test_api import SMALL_CSV, dataset, evaluate, wait_for


def _versions(api: Api, name: str, *intercepts: float) -> None:
    assert api.post("/models", json={"name": name}).status_code == 201
    for intercept in intercepts:
        parameters = {"kind": "linear", "intercept": intercept, "coef": {"a": 1.2}}
        r = api.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": parameters}
        )
        assert r.status_code == 201, r.text


def _evaluated(api: Api, name: str, version: int, dataset_id: int) -> dict:
    created = evaluate(api, model=f"{name}/{version}", dataset=dataset_id, target="y")
    done = wait_for(api, created["id"])
    assert done["status"] == "succeeded", done
    return done


def _audit(api: Api, name: str) -> list[dict]:
    return api.get("/audit", params={"object_key": name, "limit": 100}).json()["items"]


def test_gate_on_a_metric_refuses_until_the_candidate_beats_the_holder(
    admin: Api, editor: Api, viewer: Api, unique: str
) -> None:
    name, data = f"guarded-{unique}", f"holdout-{unique}"
    # v1 y = 3 + 1.2a (rmse 0.377 on SMALL_CSV), v2 far off, v3 3.2 + 1.2a (rmse 0.364)
    _versions(editor, name, 3.0, 10.0, 3.2)
    dataset_id = dataset(editor, data, SMALL_CSV)
    assert editor.put(f"/models/{name}/aliases/production", json={"version": 1}).status_code == 200

    gate = {"gate": {"dataset": data, "metric": "rmse"}}
    assert editor.put(f"/models/{name}/aliases/production/protection", json=gate).status_code == 403
    r = admin.put(f"/models/{name}/aliases/production/protection", json=gate)
    assert r.status_code == 200, r.text
    assert r.json()["gate"] == {
        "dataset_id": dataset_id,
        "dataset": data,
        "metric": "rmse",
        "max_age_days": None,
    }
    assert r.json()["version"] == 1
    assert [p["alias"] for p in viewer.get(f"/models/{name}/protections").json()] == ["production"]

    # not evaluated on the gate's dataset yet
    r = editor.put(f"/models/{name}/aliases/production", json={"version": 3})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["failed"] == "evaluated" and data in r.json()["detail"]

    _evaluated(editor, name, 1, dataset_id)
    worse = _evaluated(editor, name, 2, dataset_id)
    better = _evaluated(editor, name, 3, dataset_id)

    r = editor.put(f"/models/{name}/aliases/production", json={"version": 2})
    assert r.status_code == 409
    problem = r.json()
    assert problem["failed"] == "beats_holder"
    assert problem["candidate"]["value"] == worse["metrics"]["rmse"]
    assert problem["holder"]["version"] == 1
    assert "does not beat version 1" in problem["detail"]
    assert viewer.get(f"/models/{name}/aliases/production").json()["version"] == 1

    # the candidate's metrics on the version are not evidence: only evaluations count
    editor.patch(f"/models/{name}/versions/2", json={"metrics": {f"rmse@{data}": 0.0}})
    assert editor.put(f"/models/{name}/aliases/production", json={"version": 2}).status_code == 409

    r = editor.put(f"/models/{name}/aliases/production", json={"version": 3})
    assert r.status_code == 200, r.text
    assert viewer.get(f"/models/{name}/aliases/production").json()["version"] == 3
    assert better["metrics"]["rmse"] < worse["metrics"]["rmse"]

    # removing it, or the version or model it names, is for admins only
    assert editor.delete(f"/models/{name}/aliases/production").status_code == 409
    assert editor.delete(f"/models/{name}/versions/3").status_code == 409
    assert editor.delete(f"/models/{name}").status_code == 409
    assert viewer.get(f"/models/{name}/versions/3").status_code == 200
    # an unprotected alias is not affected
    assert editor.put(f"/models/{name}/aliases/staging", json={"version": 2}).status_code == 200

    entries = _audit(admin, name)
    refused = [e for e in entries if e["action"] == "alias.refused"]
    assert [e["detail"]["failed"] for e in reversed(refused)] == [
        "evaluated",
        "beats_holder",
        "beats_holder",
        "admin_only",
        "admin_only",
        "admin_only",
    ]
    moved = [
        e for e in entries if e["action"] == "alias.set" and e["detail"]["alias"] == "production"
    ]
    assert moved[0]["detail"]["protected"] is True and moved[0]["detail"]["allowed_by"] == "gate"
    assert moved[0]["detail"]["holder"]["version"] == 1 and moved[0]["detail"]["previous"] == 1
    assert any(e["action"] == "alias.protect" for e in entries)

    # an admin moves it anyway, and lifts the protection
    assert admin.put(f"/models/{name}/aliases/production", json={"version": 2}).status_code == 200
    assert _audit(admin, name)[0]["detail"]["allowed_by"] == "admin"
    assert admin.delete(f"/models/{name}/aliases/production/protection").status_code == 204
    assert viewer.get(f"/models/{name}/aliases/production/protection").status_code == 404
    assert editor.delete(f"/models/{name}/aliases/production").status_code == 204


def test_admin_only_and_freshness_gates(
    admin: Api, editor: Api, database: Database, unique: str
) -> None:
    name, data = f"fresh-{unique}", f"recent-{unique}"
    _versions(editor, name, 3.0, 3.2)
    dataset_id = dataset(editor, data, SMALL_CSV)

    # protected before it is ever set: admins only
    assert admin.put(f"/models/{name}/aliases/production/protection", json={}).status_code == 200
    r = editor.put(f"/models/{name}/aliases/production", json={"version": 1})
    assert r.status_code == 409 and r.json()["failed"] == "admin_only"
    assert admin.put(f"/models/{name}/aliases/production", json={"version": 1}).status_code == 200

    gate = {"gate": {"dataset": dataset_id, "max_age_days": 7}}
    assert admin.put(f"/models/{name}/aliases/production/protection", json=gate).status_code == 200
    evaluation = _evaluated(editor, name, 2, dataset_id)
    with database.session() as session:
        session.execute(
            sa.update(Evaluation)
            .where(Evaluation.id == evaluation["id"])
            .values(finished_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=9))
        )
    r = editor.put(f"/models/{name}/aliases/production", json={"version": 2})
    assert r.status_code == 409 and r.json()["failed"] == "fresh"
    assert "older than the gate's 7 days" in r.json()["detail"]

    _evaluated(editor, name, 2, dataset_id)
    assert editor.put(f"/models/{name}/aliases/production", json={"version": 2}).status_code == 200


def test_gate_is_checked_when_it_is_set(admin: Api, editor: Api, unique: str) -> None:
    name = f"badgate-{unique}"
    _versions(editor, name, 3.0)
    path = f"/models/{name}/aliases/production/protection"
    r = admin.put(path, json={"gate": {"dataset": f"nope-{unique}", "metric": "rmse"}})
    assert r.status_code == 404 and "dataset" in r.json()["detail"]
    r = admin.put(path, json={"gate": {"dataset": 1, "metric": "count"}})
    assert r.status_code == 400 and "'count'" in r.json()["detail"]
    r = admin.put(path, json={"gate": {"dataset": 1}})
    assert r.status_code == 422

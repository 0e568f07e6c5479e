"""Deleting a target takes its stopped deployments and everything they recorded with it; a
running target or an active deployment refuses it. The deployments domain does it (it
depends on targets), under the targets API's path."""

from __future__ import annotations

import sqlalchemy as sa

from modelyard.kit.db import Database
from modelyard.models import Deployment, Target
from tests.conftest import Api


def _target_with_deployment(editor: Api, unique: str) -> tuple[str, int]:
    model = f"del-{unique}"
    assert editor.post("/models", json={"name": model}).status_code == 201
    linear = {"flavor": "formula", "parameters": {"kind": "linear", "coef": {"x": 1.0}}}
    assert editor.post(f"/models/{model}/versions", json=linear).status_code == 201
    target = f"del-{unique}"
    r = editor.post("/targets", json={"name": target, "kind": "push", "config": {}, "start": False})
    assert r.status_code == 201, r.text
    r = editor.post(
        "/deployments", json={"name": f"del-{unique}", "target": target, "model": f"{model}/1"}
    )
    assert r.status_code == 201, r.text
    return target, int(r.json()["id"])


def test_a_target_goes_with_its_stopped_deployments(
    editor: Api, viewer: Api, database: Database, unique: str
) -> None:
    target, deployment = _target_with_deployment(editor, unique)
    assert viewer.delete(f"/targets/{target}").status_code == 403
    refused = editor.delete(f"/targets/{target}")
    assert refused.status_code == 409 and "active deployments" in refused.json()["detail"]
    assert editor.post(f"/deployments/{deployment}/stop").status_code == 200
    assert editor.delete(f"/targets/{target}").status_code == 204
    assert editor.get(f"/targets/{target}").status_code == 404
    assert editor.get(f"/deployments/{deployment}").status_code == 404
    with database.session() as session:
        assert session.scalar(sa.select(Target.id).where(Target.name == target)) is None
        assert session.get(Deployment, deployment) is None
    audit = editor.get("/audit", params={"object_key": target}).json()["items"]
    assert [entry["action"] for entry in audit][:1] == ["target.delete"]


def test_a_running_target_is_stopped_first(editor: Api, unique: str) -> None:
    r = editor.post(
        "/targets", json={"name": f"run-{unique}", "kind": "push", "config": {}, "start": True}
    )
    assert r.status_code == 201, r.text
    refused = editor.delete(f"/targets/run-{unique}")
    assert refused.status_code == 409 and "stop it first" in refused.json()["detail"]

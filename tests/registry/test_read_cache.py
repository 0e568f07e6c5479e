"""Cached registry reads follow every committed change, whichever process made it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelyard.config import Settings
from modelyard.kit.db import Database
from modelyard.registry import service
from modelyard.registry.schemas import ModelPage, ModelUpdate, VersionCreate, VersionOut
from tests.conftest import Api

LINEAR = {"flavor": "formula", "parameters": {"kind": "linear", "coef": {"x": 1.0}}}


def _model_with_two_versions(editor: Api, name: str) -> None:
    assert editor.post("/models", json={"name": name}).status_code == 201
    for _ in range(2):
        assert editor.post(f"/models/{name}/versions", json=LINEAR).status_code == 201
    assert editor.put(f"/models/{name}/aliases/prod", json={"version": 1}).status_code == 200


def test_repeated_reads_are_identical(editor: Api, viewer: Api, unique: str) -> None:
    name = f"cache-same-{unique}"
    _model_with_two_versions(editor, name)
    first = viewer.get(f"/models/{name}/aliases/prod")
    second = viewer.get(f"/models/{name}/aliases/prod")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.headers["content-type"] == "application/json"
    # stored bytes, served as they are: they must still be the schema's document
    assert VersionOut.model_validate_json(second.content).aliases == ["prod"]
    page = viewer.get("/models", params={"q": name})
    again = viewer.get("/models", params={"q": name})
    assert page.content == again.content
    assert ModelPage.model_validate_json(again.content).items[0].aliases == {"prod": 1}


def test_a_write_through_the_api_is_read_back_at_once(
    editor: Api, viewer: Api, unique: str
) -> None:
    name = f"cache-api-{unique}"
    _model_with_two_versions(editor, name)
    assert viewer.get(f"/models/{name}/aliases/prod").json()["version"] == 1
    assert viewer.get("/models", params={"q": name}).json()["items"][0]["aliases"] == {"prod": 1}
    editor.put(f"/models/{name}/aliases/prod", json={"version": 2})
    assert viewer.get(f"/models/{name}/aliases/prod").json()["version"] == 2
    assert viewer.get("/models", params={"q": name}).json()["items"][0]["aliases"] == {"prod": 2}
    editor.delete(f"/models/{name}/aliases/prod")
    assert viewer.get(f"/models/{name}/aliases/prod").status_code == 404


def test_a_write_by_another_process_is_read_back_at_once(
    settings: Settings, editor: Api, viewer: Api, unique: str
) -> None:
    """Another engine on the same database stands for a job worker or the CLI."""
    name = f"cache-other-{unique}"
    _model_with_two_versions(editor, name)
    assert viewer.get(f"/models/{name}").json()["description"] == ""
    assert viewer.get(f"/models/{name}/versions/1").json()["metrics"] == {}
    other = Database(settings.resolved_database_url)
    try:
        with other.session() as s:
            service.update_model(
                s, name, ModelUpdate(description="moved"), actor="worker", as_admin=True
            )
            service.set_alias(s, name, "prod", 2, actor="worker")
            version_id = service.resolve(s, f"{name}/1").version_id
            service.merge_version_metrics(s, version_id, {"mae": 0.5})
            service.create_version(s, name, VersionCreate.model_validate(LINEAR), None, actor="w")
    finally:
        other.dispose()
    assert viewer.get(f"/models/{name}").json()["description"] == "moved"
    assert viewer.get(f"/models/{name}/aliases/prod").json()["version"] == 2
    assert viewer.get(f"/models/{name}/versions/1").json()["metrics"] == {"mae": 0.5}
    assert viewer.get(f"/models/{name}/versions/latest").json()["version"] == 3
    assert [v["version"] for v in viewer.get(f"/models/{name}/versions").json()["items"]] == [
        3,
        2,
        1,
    ]


def test_metric_write_back_is_audited(settings: Settings, editor: Api, unique: str) -> None:
    name = f"cache-audit-{unique}"
    _model_with_two_versions(editor, name)
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as s:
            service.merge_version_metrics(s, service.resolve(s, name).version_id, {"r2": 0.9})
    finally:
        db.dispose()
    actions = [
        e["action"] for e in editor.get("/audit", params={"object_key": name}).json()["items"]
    ]
    assert actions[0] == "version.metrics"


def test_a_cached_url_still_needs_a_valid_token(
    app_client: TestClient, editor: Api, viewer: Api, unique: str
) -> None:
    name = f"cache-auth-{unique}"
    _model_with_two_versions(editor, name)
    for _ in range(2):  # the second answer comes from the cache, before routing
        assert viewer.get(f"/models/{name}/aliases/prod").status_code == 200
    assert Api(app_client, "my_not-a-token").get(f"/models/{name}/aliases/prod").status_code == 401
    assert Api(app_client, None).get(f"/models/{name}/aliases/prod").status_code == 401


def test_a_revoked_token_is_refused_a_cached_url_at_once(
    app_client: TestClient, editor: Api, unique: str
) -> None:
    name = f"cache-revoked-{unique}"
    _model_with_two_versions(editor, name)
    created = editor.post("/tokens", json={"name": "short", "expires_in_days": 1}).json()
    holder = Api(app_client, created["token"])
    for _ in range(2):
        assert holder.get(f"/models/{name}").status_code == 200
    assert editor.delete(f"/tokens/{created['id']}").status_code == 200
    r = holder.get(f"/models/{name}")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]

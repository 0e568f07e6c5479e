"""Who may change or delete a model (its prediction logging too), a dataset or a target: its
creator or an admin.

Another editor gets a 403 problem naming the owner, and the object is unchanged; versions
stay open to every editor (a version's author, the model's owner or an admin deletes it).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from modelyard.auth.schemas import Role
from modelyard.kit.db import Database
from tests.conftest import Api, _make_user

CSV = b"a,y\n1,2\n2,4\n"


@pytest.fixture
def other_editor(app_client: TestClient, database: Database) -> Api:
    name, token = _make_user(database, Role.editor)
    return Api(app_client, token, name)


def _refused(response, owner: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert f"belongs to '{owner}'" in response.json()["detail"]


def test_models_are_changed_and_deleted_by_their_owner_or_an_admin(
    editor: Api, other_editor: Api, admin: Api, unique: str
) -> None:
    name = f"owned-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    _refused(other_editor.patch(f"/models/{name}", json={"description": "mine"}), editor.user)
    _refused(other_editor.put(f"/models/{name}/tags/k", json={"value": "v"}), editor.user)
    _refused(other_editor.delete(f"/models/{name}"), editor.user)
    _refused(
        other_editor.put(f"/models/{name}/prediction-log", json={"enabled": True}), editor.user
    )
    assert editor.get(f"/models/{name}").json()["description"] == ""
    assert editor.get(f"/models/{name}/prediction-log").json()["enabled"] is False
    switched = editor.put(f"/models/{name}/prediction-log", json={"enabled": True})
    assert switched.status_code == 200 and switched.json()["enabled"] is True
    assert admin.put(f"/models/{name}/prediction-log", json={"enabled": False}).status_code == 200

    # Versions are open to every editor; deleting one is for its author or the model's owner.
    mine = editor.post(f"/models/{name}/versions", json={"flavor": "generic"})
    theirs = other_editor.post(f"/models/{name}/versions", json={"flavor": "generic"})
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    _refused(other_editor.delete(f"/models/{name}/versions/{mine.json()['version']}"), editor.user)
    assert (
        other_editor.delete(f"/models/{name}/versions/{theirs.json()['version']}").status_code
        == 204
    )

    assert editor.patch(f"/models/{name}", json={"description": "kept"}).status_code == 200
    assert admin.put(f"/models/{name}/tags/k", json={"value": "v"}).status_code == 200
    assert admin.delete(f"/models/{name}").status_code == 204


def test_datasets_are_deleted_by_their_owner_or_an_admin(
    editor: Api, other_editor: Api, admin: Api, unique: str
) -> None:
    ids = []
    for index in range(2):
        r = editor.post("/datasets", files={"file": (f"own-{unique}-{index}.csv", CSV)})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    _refused(other_editor.delete(f"/datasets/{ids[0]}"), editor.user)
    assert editor.get(f"/datasets/{ids[0]}").status_code == 200
    assert editor.delete(f"/datasets/{ids[0]}").status_code == 204
    assert admin.delete(f"/datasets/{ids[1]}").status_code == 204


def test_targets_are_started_stopped_and_deleted_by_their_owner_or_an_admin(
    editor: Api, other_editor: Api, admin: Api, unique: str
) -> None:
    names = [f"own-{unique}-{index}" for index in range(2)]
    for name in names:
        r = editor.post("/targets", json={"name": name, "kind": "push", "start": False})
        assert r.status_code == 201, r.text
    _refused(other_editor.post(f"/targets/{names[0]}/start"), editor.user)
    _refused(other_editor.post(f"/targets/{names[0]}/stop"), editor.user)
    _refused(other_editor.delete(f"/targets/{names[0]}"), editor.user)
    assert editor.get(f"/targets/{names[0]}").status_code == 200
    assert editor.delete(f"/targets/{names[0]}").status_code == 204
    assert admin.post(f"/targets/{names[1]}/stop").status_code == 200
    assert admin.delete(f"/targets/{names[1]}").status_code == 204

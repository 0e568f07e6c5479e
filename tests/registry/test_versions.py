from __future__ import annotations

import hashlib
import io
import json
import pickle

from modelyard.registry.artifacts import blob_key
from modelyard.storage import open_store
from tests.conftest import Api

LINEAR = {"kind": "linear", "intercept": 3.0, "coef": {"a": 1.2}}


def _model(api: Api, name: str) -> None:
    assert api.post("/models", json={"name": name}).status_code == 201


def test_versions_numbered_with_lineage_and_tags(editor: Api, viewer: Api, unique: str) -> None:
    name = f"v-{unique}"
    _model(editor, name)
    r1 = editor.post(
        f"/models/{name}/versions",
        json={
            "flavor": "formula",
            "parameters": LINEAR,
            "metrics": {"mape": 12.5},
            "tags": {"k": "v"},
        },
    )
    assert r1.status_code == 201, r1.text
    assert r1.json()["version"] == 1 and r1.json()["tags"] == {"k": "v"}
    r2 = editor.post(
        f"/models/{name}/versions",
        json={"flavor": "formula", "parameters": LINEAR, "parent": f"{name}/1"},
    )
    assert r2.json()["version"] == 2 and r2.json()["parent"] == f"{name}/1"
    listing = viewer.get(f"/models/{name}/versions").json()["items"]
    assert [v["version"] for v in listing] == [2, 1]
    assert viewer.get(f"/models/{name}/versions/latest").json()["version"] == 2
    assert viewer.get(f"/models/{name}").json()["latest_version"] == 2
    editor.put(f"/models/{name}/versions/1/tags/stage", json={"value": "old"})
    assert viewer.get(f"/models/{name}/versions/1").json()["tags"] == {"k": "v", "stage": "old"}


def test_aliases_resolve_move_and_delete(editor: Api, viewer: Api, unique: str) -> None:
    name = f"a-{unique}"
    _model(editor, name)
    for _ in range(2):
        editor.post(f"/models/{name}/versions", json={"flavor": "formula", "parameters": LINEAR})
    assert editor.put(f"/models/{name}/aliases/production", json={"version": 1}).status_code == 200
    assert viewer.get(f"/models/{name}/aliases/production").json()["version"] == 1
    assert viewer.get(f"/models/{name}/versions/@production").json()["version"] == 1
    editor.put(f"/models/{name}/aliases/production", json={"version": 2})
    assert viewer.get(f"/models/{name}/aliases/production").json()["version"] == 2
    assert viewer.get(f"/models/{name}").json()["aliases"] == {"production": 2}
    assert editor.put(f"/models/{name}/aliases/production", json={"version": 9}).status_code == 404
    assert editor.delete(f"/models/{name}/aliases/production").status_code == 204
    assert viewer.get(f"/models/{name}/aliases/production").status_code == 404
    # name@alias as a lineage reference
    editor.put(f"/models/{name}/aliases/champion", json={"version": 2})
    r = editor.post(
        f"/models/{name}/versions",
        json={"flavor": "formula", "parameters": LINEAR, "parent": f"{name}@champion"},
    )
    assert r.json()["parent"] == f"{name}/2"


def test_artifact_upload_is_content_addressed(
    editor: Api, viewer: Api, unique: str, settings
) -> None:  # type: ignore[no-untyped-def]
    name = f"art-{unique}"
    _model(editor, name)
    payload = b"onnx-ish bytes " * 1000
    r = editor.post(
        f"/models/{name}/versions",
        files={"file": ("model.bin", io.BytesIO(payload), "application/octet-stream")},
        data={"metadata": json.dumps({"flavor": "generic", "description": "blob"})},
    )
    assert r.status_code == 201, r.text
    sha = hashlib.sha256(payload).hexdigest()
    assert r.json()["artifact"] == {"sha256": sha, "size": len(payload), "filename": "model.bin"}
    assert open_store(settings).read_bytes(blob_key(sha)) == payload
    download = viewer.get(f"/models/{name}/versions/1/artifact")
    assert download.status_code == 200 and download.content == payload


def test_pickle_refused_and_nothing_stored(editor: Api, unique: str) -> None:
    name = f"pk-{unique}"
    _model(editor, name)
    r = editor.post(
        f"/models/{name}/versions",
        files={
            "file": ("model.bin", io.BytesIO(pickle.dumps({"a": 1})), "application/octet-stream")
        },
        data={"metadata": json.dumps({"flavor": "generic"})},
    )
    assert r.status_code == 400
    assert "skops" in r.json()["detail"]
    assert editor.get(f"/models/{name}/versions").json()["items"] == []


def test_artifact_over_limit_is_413(editor: Api, unique: str, settings) -> None:  # type: ignore[no-untyped-def]
    name = f"big-{unique}"
    _model(editor, name)
    old = settings.storage.max_artifact_bytes
    settings.storage.max_artifact_bytes = 1000
    try:
        r = editor.post(
            f"/models/{name}/versions",
            files={"file": ("m.bin", io.BytesIO(b"x" * 5000), "application/octet-stream")},
            data={"metadata": "{}"},
        )
    finally:
        settings.storage.max_artifact_bytes = old
    assert r.status_code == 413
    assert editor.get(f"/models/{name}/versions").json()["items"] == []
    assert editor.get(f"/models/{name}").json()["latest_version"] == 0


def test_formula_version_checks_parameters(editor: Api, unique: str) -> None:
    name = f"f-{unique}"
    _model(editor, name)
    r = editor.post(
        f"/models/{name}/versions", json={"flavor": "formula", "parameters": {"kind": "nope"}}
    )
    assert r.status_code == 400 and "kind" in r.json()["detail"]
    r = editor.post(f"/models/{name}/versions", json={"flavor": "sklearn"})
    assert r.status_code == 400 and "artifact" in r.json()["detail"]


def test_audit_log_records_who_changed_what(editor: Api, admin: Api, unique: str) -> None:
    name = f"au-{unique}"
    _model(editor, name)
    editor.post(f"/models/{name}/versions", json={"flavor": "formula", "parameters": LINEAR})
    editor.put(f"/models/{name}/aliases/production", json={"version": 1})
    entries = admin.get("/audit", params={"object_key": name}).json()["items"]
    assert [e["action"] for e in entries] == ["alias.set", "version.create", "model.create"]
    assert {e["actor"] for e in entries} == {editor.user}

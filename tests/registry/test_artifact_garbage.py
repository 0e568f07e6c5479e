"""A refused upload leaves no blob; a blob two versions share outlives one of them; and
``modelyard artifacts gc`` removes unreferenced blobs past the grace period, and only those."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli import artifacts as artifacts_cli
from modelyard.config import Settings, get_settings
from modelyard.kit.db import Database
from modelyard.registry.artifacts import ArtifactStore
from modelyard.registry.garbage import collect_artifacts
from tests.conftest import Api

DAY = 86400.0


def _files(settings: Settings) -> set[Path]:
    """Every file in the store, temporary uploads included."""
    return {p for p in settings.artifacts_dir.rglob("*") if p.is_file()}


def _upload(
    api: Api, name: str, payload: bytes, metadata: dict[str, object], filename: str = "m.bin"
):  # type: ignore[no-untyped-def]
    return api.post(
        f"/models/{name}/versions",
        files={"file": (filename, io.BytesIO(payload), "application/octet-stream")},
        data={"metadata": json.dumps(metadata)},
    )


def _orphan(store: ArtifactStore, payload: bytes, age_seconds: float) -> Path:
    """A blob put straight into the store, named by no version, last written ``age_seconds`` ago."""
    sha = hashlib.sha256(payload).hexdigest()
    path = store.path_for(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


@pytest.mark.parametrize(
    ("payload", "metadata", "filename", "status"),
    [
        (pickle.dumps({"a": 1}), {"flavor": "generic"}, "model.bin", 400),
        (b"plain bytes", {"flavor": "generic"}, "model.joblib", 400),
        (b"not a skops zip" * 10, {"flavor": "sklearn"}, "model.skops", 400),
        (b"not an onnx graph" * 10, {"flavor": "onnx"}, "model.onnx", 400),
        (b"fine bytes", {"flavor": "no_such_flavor"}, "model.bin", 400),
    ],
    ids=["pickle", "joblib-name", "sklearn-invalid", "onnx-invalid", "unknown-flavor"],
)
def test_refused_upload_leaves_nothing(
    editor: Api,
    settings: Settings,
    unique: str,
    payload: bytes,
    metadata: dict[str, object],
    filename: str,
    status: int,
) -> None:
    name = f"gar-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    before = _files(settings)
    r = _upload(editor, name, payload + unique.encode(), metadata, filename)
    assert 400 <= r.status_code < 500 and r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert _files(settings) == before
    assert editor.get(f"/models/{name}/versions").json()["items"] == []


def test_upload_to_a_missing_model_or_over_the_limit_leaves_nothing(
    editor: Api, settings: Settings, unique: str
) -> None:
    before = _files(settings)
    r = _upload(editor, f"absent-{unique}", f"bytes {unique}".encode(), {"flavor": "generic"})
    assert r.status_code == 404, r.text
    name = f"big-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    old = settings.storage.max_artifact_bytes
    settings.storage.max_artifact_bytes = 1000
    try:
        r = _upload(editor, name, b"x" * 5000, {"flavor": "generic"})
    finally:
        settings.storage.max_artifact_bytes = old
    assert r.status_code == 413
    assert _files(settings) == before


def test_refusal_never_removes_a_blob_another_version_uses(
    editor: Api, viewer: Api, settings: Settings, unique: str
) -> None:
    name = f"keep-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    payload = f"shared content {unique}".encode() * 50
    assert _upload(editor, name, payload, {"flavor": "generic"}).status_code == 201
    # The same bytes again, refused by its flavor: the blob version 1 names must stay.
    assert _upload(editor, name, payload, {"flavor": "sklearn"}).status_code == 400
    download = viewer.get(f"/models/{name}/versions/1/artifact")
    assert download.status_code == 200 and download.content == payload


def test_shared_blob_survives_deleting_one_version_and_gc(
    editor: Api, viewer: Api, settings: Settings, database: Database, unique: str
) -> None:
    name = f"share-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    payload = f"twice stored {unique}".encode() * 100
    sha = hashlib.sha256(payload).hexdigest()
    for _ in range(2):
        r = _upload(editor, name, payload, {"flavor": "generic"})
        assert r.status_code == 201 and r.json()["artifact"]["sha256"] == sha
    store = ArtifactStore(settings.artifacts_dir)
    blob = store.path_for(sha)
    assert editor.delete(f"/models/{name}/versions/1").status_code == 204
    with database.session() as s:
        removed = collect_artifacts(s, store, grace_seconds=0, dry_run=False)
    assert blob not in {g.path for g in removed} and blob.read_bytes() == payload
    assert viewer.get(f"/models/{name}/versions/2/artifact").content == payload

    assert editor.delete(f"/models/{name}/versions/2").status_code == 204
    with database.session() as s:
        removed = collect_artifacts(s, store, grace_seconds=0, dry_run=False)
    assert blob in {g.path for g in removed} and not blob.exists()


def test_gc_removes_old_orphans_only(
    editor: Api, settings: Settings, database: Database, unique: str
) -> None:
    store = ArtifactStore(settings.artifacts_dir)
    name = f"gc-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    kept_payload = f"referenced {unique}".encode()
    assert _upload(editor, name, kept_payload, {"flavor": "generic"}).status_code == 201
    referenced = store.path_for(hashlib.sha256(kept_payload).hexdigest())
    past = time.time() - 3 * DAY
    os.utime(referenced, (past, past))  # old, but named by a version
    old = _orphan(store, f"old orphan {unique}".encode(), 2 * DAY)
    young = _orphan(store, f"young orphan {unique}".encode(), 60)
    stale_tmp = settings.artifacts_dir / "tmp" / f"upload-{unique}"
    stale_tmp.write_bytes(b"half an upload")
    os.utime(stale_tmp, (past, past))

    with database.session() as s:
        listed = collect_artifacts(s, store, grace_seconds=DAY, dry_run=True)
    assert {old, stale_tmp} <= {g.path for g in listed}
    assert not {referenced, young} & {g.path for g in listed}
    assert old.exists() and stale_tmp.exists()  # a dry run removes nothing

    with database.session() as s:
        removed = collect_artifacts(s, store, grace_seconds=DAY, dry_run=False)
    assert {old, stale_tmp} <= {g.path for g in removed}
    assert not old.exists() and not stale_tmp.exists()
    assert referenced.read_bytes() == kept_payload and young.exists()


def test_gc_command_lists_by_default_and_deletes_when_asked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    store = ArtifactStore(settings.artifacts_dir)
    old = _orphan(store, f"cli orphan {unique}".encode(), 3 * DAY)
    monkeypatch.setenv("MODELYARD_HOME", str(settings.home))
    monkeypatch.setenv("MODELYARD_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(artifacts_cli.app, ["gc", "--grace-hours", "48"])
        assert result.exit_code == 0, result.output
        assert f"would remove {old}" in result.output and "--delete" in result.output
        assert old.exists()
        result = runner.invoke(artifacts_cli.app, ["gc", "--grace-hours", "48", "--delete"])
        assert result.exit_code == 0, result.output
        assert f"removed {old}" in result.output
        assert not old.exists()
    finally:
        get_settings.cache_clear()

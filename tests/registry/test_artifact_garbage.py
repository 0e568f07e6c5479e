"""A refused upload leaves no blob; a blob two versions share outlives one of them; and
``modelyard artifacts gc`` removes unreferenced blobs past the grace period, and only those.
On both stores: the home directory, and the object store of the PostgreSQL half."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import time

import pytest
from typer.testing import CliRunner

from modelyard.cli import artifacts as artifacts_cli
from modelyard.config import Settings, get_settings
from modelyard.kit.db import Database
from modelyard.registry.artifacts import ArtifactStore, blob_key
from modelyard.registry.garbage import collect_artifacts
from modelyard.storage import open_store
from tests.conftest import Api, blob_keys

DAY = 86400.0


def _files(settings: Settings) -> set[str]:
    """Every artifact in the store, and this machine's temporary files."""
    scratch = settings.scratch_dir
    local = {str(p) for p in scratch.iterdir()} if scratch.is_dir() else set()
    return blob_keys(open_store(settings), "artifacts") | local


def _store(settings: Settings) -> ArtifactStore:
    return ArtifactStore.of(open_store(settings), settings)


def _upload(
    api: Api, name: str, payload: bytes, metadata: dict[str, object], filename: str = "m.bin"
):  # type: ignore[no-untyped-def]
    return api.post(
        f"/models/{name}/versions",
        files={"file": (filename, io.BytesIO(payload), "application/octet-stream")},
        data={"metadata": json.dumps(metadata)},
    )


def _orphan(store: ArtifactStore, payload: bytes) -> str:
    """A blob put straight into the store, named by no version."""
    key = blob_key(hashlib.sha256(payload).hexdigest())
    store.store.put_bytes(key, payload)
    return key


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
    store = _store(settings)
    blob = blob_key(sha)
    assert editor.delete(f"/models/{name}/versions/1").status_code == 204
    with database.session() as s:
        removed = collect_artifacts(s, store, grace_seconds=0, dry_run=False)
    assert blob not in {g.key for g in removed} and store.store.read_bytes(blob) == payload
    assert viewer.get(f"/models/{name}/versions/2/artifact").content == payload

    assert editor.delete(f"/models/{name}/versions/2").status_code == 204
    with database.session() as s:
        removed = collect_artifacts(s, store, grace_seconds=0, dry_run=False)
    assert blob in {g.key for g in removed} and not store.store.exists(blob)


def test_gc_removes_old_orphans_only(
    editor: Api, settings: Settings, database: Database, unique: str
) -> None:
    store = _store(settings)
    name = f"gc-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    kept_payload = f"referenced {unique}".encode()
    assert _upload(editor, name, kept_payload, {"flavor": "generic"}).status_code == 201
    referenced = blob_key(hashlib.sha256(kept_payload).hexdigest())
    orphan = _orphan(store, f"orphan {unique}".encode())
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    stale_tmp = settings.scratch_dir / f"artifact-{unique}"
    stale_tmp.write_bytes(b"half an upload")
    past = time.time() - 3 * DAY
    os.utime(stale_tmp, (past, past))

    def collect(*, days_later: float, dry_run: bool) -> set[str]:
        with database.session() as s:
            found = collect_artifacts(
                s,
                store,
                grace_seconds=DAY,
                dry_run=dry_run,
                now=time.time() + days_later * DAY,
            )
        return {g.key for g in found}

    # Within the grace period only the stale temporary file is garbage.
    listed = collect(days_later=0, dry_run=True)
    assert str(stale_tmp) in listed and not {orphan, referenced} & listed
    # Two days on the orphan is too, never the blob a version names.
    listed = collect(days_later=2, dry_run=True)
    assert {orphan, str(stale_tmp)} <= listed and referenced not in listed
    assert store.store.exists(orphan) and stale_tmp.exists()  # a dry run removes nothing

    removed = collect(days_later=2, dry_run=False)
    assert {orphan, str(stale_tmp)} <= removed
    assert not store.store.exists(orphan) and not stale_tmp.exists()
    assert store.store.read_bytes(referenced) == kept_payload


def test_gc_command_lists_by_default_and_deletes_when_asked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    store = _store(settings)
    old = _orphan(store, f"cli orphan {unique}".encode())
    monkeypatch.setenv("MODELYARD_HOME", str(settings.home))
    monkeypatch.setenv("MODELYARD_DATABASE_URL", settings.resolved_database_url)
    for variable, value in _storage_env(settings).items():
        monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(artifacts_cli.app, ["gc", "--grace-hours", "48"])
        assert result.exit_code == 0, result.output
        assert old not in result.output and "--delete" in result.output  # too young
        result = runner.invoke(artifacts_cli.app, ["gc", "--grace-hours", "0"])
        assert f"would remove {old}" in result.output
        assert store.store.exists(old)
        result = runner.invoke(artifacts_cli.app, ["gc", "--grace-hours", "0", "--delete"])
        assert result.exit_code == 0, result.output
        assert f"removed {old}" in result.output
        assert not store.store.exists(old)
    finally:
        get_settings.cache_clear()


def _storage_env(settings: Settings) -> dict[str, str]:
    storage = settings.storage
    if not storage.url:
        return {}
    assert storage.secret_access_key is not None
    return {
        "MODELYARD_STORAGE__URL": storage.url,
        "MODELYARD_STORAGE__ENDPOINT_URL": storage.endpoint_url or "",
        "MODELYARD_STORAGE__REGION": storage.region or "",
        "MODELYARD_STORAGE__ACCESS_KEY_ID": storage.access_key_id or "",
        "MODELYARD_STORAGE__SECRET_ACCESS_KEY": storage.secret_access_key.get_secret_value(),
    }

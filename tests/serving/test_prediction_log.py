"""Prediction logging: a model setting an editor switches (audited, refused to viewers);
logged requests become one dataset per batch, not per request, holding the body's columns
(a label sent beside the features too) and the predictions; that dataset is then evaluated
and checked for drift like any other. A model without the setting logs nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelyard.config import ServingSettings, Settings
from modelyard.datasets.store import DatasetStore
from modelyard.kit.db import Database
from modelyard.serving import PredictionLog
from modelyard.storage import open_store
from tests.conftest import Api
from tests.drift.test_api import wait_for as wait_for_drift
from tests.evaluations.test_api import wait_for as wait_for_evaluation
from tests.flavors.builders import FEATURES, linear_regression, skops_bytes, upload_version


@pytest.fixture
def logged_model(editor: Api, unique: str) -> str:
    name = f"logged-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    r = upload_version(
        editor, name, "sklearn", skops_bytes(linear_regression()), "m.skops", {"features": FEATURES}
    )
    assert r.status_code == 201, r.text
    return name


def _rows(seed: int, count: int, shift: float = 0.0) -> list[dict[str, float]]:
    """Rows with the features a, b and the true value y (what the model should predict)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(5.0 + shift, 1.0, count)
    b = rng.normal(2.0, 0.5, count)
    truth = linear_regression().predict(np.column_stack([a, b]))
    return [
        {"a": float(x), "b": float(y), "y": float(t)} for x, y, t in zip(a, b, truth, strict=True)
    ]


def test_the_setting_is_an_editors_and_audited(
    editor: Api, viewer: Api, admin: Api, anonymous: Api, logged_model: str
) -> None:
    path = f"/models/{logged_model}/prediction-log"
    shown = viewer.get(path).json()
    assert shown["enabled"] is False and shown["updated_by"] is None
    assert viewer.put(path, json={"enabled": True}).status_code == 403
    assert anonymous.get(path).status_code == 401
    assert viewer.post(f"{path}/flush").status_code == 403
    r = editor.put(path, json={"enabled": "sometimes"})
    assert r.status_code == 422 and "enabled" in r.text
    assert (
        editor.put("/models/no-such-model/prediction-log", json={"enabled": True}).status_code
        == 404
    )
    r = editor.put(path, json={"enabled": True})
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True and r.json()["updated_by"] == editor.user
    audit = admin.get("/audit", params={"limit": 20}).json()["items"]
    assert any(
        a["action"] == "model.prediction_log" and a["object_key"] == logged_model for a in audit
    )


def test_logged_predictions_are_evaluated_and_checked_for_drift(
    editor: Api, viewer: Api, logged_model: str, unique: str
) -> None:
    path = f"/models/{logged_model}/prediction-log"
    # before the setting: nothing is kept
    assert viewer.post(f"/models/{logged_model}/predict", json=_rows(0, 3)).status_code == 200
    assert editor.get(path).json()["buffered_rows"] == 0
    assert editor.post(f"{path}/flush").json()["datasets"] == []

    assert editor.put(path, json={"enabled": True}).status_code == 200
    sent = []
    for seed in range(1, 9):  # eight requests, shifted inputs: drift against the training data
        rows = _rows(seed, 50, shift=3.0)
        sent += rows
        r = viewer.post(f"/models/{logged_model}/predict", json={"dataframe_records": rows})
        assert r.status_code == 200, r.text
    assert editor.get(path).json()["buffered_rows"] == len(sent)

    flushed = editor.post(f"{path}/flush")
    assert flushed.status_code == 200, flushed.text
    [dataset] = flushed.json()["datasets"]  # one dataset for the eight requests
    assert dataset["row_count"] == len(sent)
    assert dataset["name"].startswith(f"{logged_model}.predictions.")
    names = [c["name"] for c in dataset["columns"]]
    assert names == ["a", "b", "y", "prediction", "version", "logged_at"]
    assert "8 requests" in dataset["description"]
    assert editor.get(path).json()["buffered_rows"] == 0
    preview = editor.get(f"/datasets/{dataset['id']}/preview", params={"limit": 2}).json()
    first = preview["rows"][0]
    assert first["a"] == pytest.approx(sent[0]["a"]) and first["version"] == 1
    assert first["prediction"] == pytest.approx(sent[0]["y"])

    # the logged dataset is evaluated like any other: the model predicted y exactly
    r = editor.post(
        "/evaluations",
        json={"model": f"{logged_model}/1", "dataset": dataset["id"], "target": "y"},
    )
    assert r.status_code == 202, r.text
    evaluation = wait_for_evaluation(viewer, r.json()["id"])
    assert evaluation["status"] == "succeeded", evaluation
    assert evaluation["metrics"]["rmse"] == pytest.approx(0.0, abs=1e-9)

    # ...and checked for drift against unshifted data: the shifted feature drifted
    reference_rows = _rows(100, 400)
    csv = "a,b,y\n" + "".join(f"{r['a']},{r['b']},{r['y']}\n" for r in reference_rows)
    r = editor.post(
        "/datasets", files={"file": ("train.csv", csv.encode())}, data={"name": f"tr-{unique}"}
    )
    assert r.status_code == 201, r.text
    r = editor.post(
        "/drift",
        json={"reference": r.json()["id"], "current": dataset["id"], "columns": ["a", "b"]},
    )
    assert r.status_code == 202, r.text
    drift = wait_for_drift(viewer, r.json()["id"])
    assert drift["status"] == "succeeded", drift
    assert drift["summary"]["drifted"] == ["a"]

    # switched off: requests are no longer kept
    assert editor.put(path, json={"enabled": False}).status_code == 200
    assert viewer.post(f"/models/{logged_model}/predict", json=_rows(9, 5)).status_code == 200
    assert editor.get(path).json()["buffered_rows"] == 0


def test_a_full_batch_becomes_a_dataset_without_a_flush(
    settings: Settings, editor: Api, logged_model: str
) -> None:
    """The log's own thread turns a full buffer into a dataset; rows past the bound are
    dropped and counted; requests whose columns differ share one dataset."""
    database = Database(settings.resolved_database_url)
    store = DatasetStore.of(open_store(settings), settings)
    bounded = PredictionLog(
        database,
        store,
        ServingSettings(log_batch_rows=1000, log_flush_seconds=3600, log_max_buffered_rows=40),
    )
    bounded.add(logged_model, 1, {"a": np.arange(30.0)}, np.arange(30.0))
    bounded.add(logged_model, 1, {"a": np.arange(20.0)}, np.arange(20.0))  # past 40: dropped
    assert bounded.buffered(logged_model) == (30, 20)

    log = PredictionLog(
        database,
        store,
        ServingSettings(log_batch_rows=30, log_flush_seconds=3600, log_max_buffered_rows=40),
    )
    before = {d["id"] for d in editor.get("/datasets", params={"limit": 200}).json()["items"]}
    try:
        log.add(logged_model, 1, {"a": np.arange(20.0), "b": np.ones(20)}, np.arange(20.0))
        with_label = {"a": np.arange(15.0), "b": np.ones(15), "label": np.array(["x"] * 15)}
        log.add(logged_model, 1, with_label, np.arange(15.0))  # 35 rows: a full batch
        found = _wait_for_dataset(editor, logged_model, before)
        assert log.buffered(logged_model) == (0, 0)
    finally:
        log.close()
        database.dispose()
    assert found["row_count"] == 35
    assert [c["name"] for c in found["columns"]] == [
        "a",
        "b",
        "prediction",
        "version",
        "logged_at",
        "label",
    ]
    blob = store.parquet(_storage_key(settings, found["id"]))
    table = blob.open().read()
    assert table.column("label").null_count == 20


def _wait_for_dataset(editor: Api, model: str, before: set[int]) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for item in editor.get("/datasets", params={"q": f"{model}.predictions"}).json()["items"]:
            if item["id"] not in before:
                return dict(item)
        time.sleep(0.1)
    raise AssertionError("no dataset was made of the full buffer")


def _storage_key(settings: Settings, dataset_id: int) -> str:
    from modelyard.models import Dataset

    database = Database(settings.resolved_database_url)
    try:
        with database.session() as session:
            row = session.get(Dataset, dataset_id)
            assert row is not None
            return row.storage_key
    finally:
        database.dispose()

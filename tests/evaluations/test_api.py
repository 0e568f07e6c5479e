"""Evaluations through the API: submit, watch, metrics by hand, classification, ONNX,
missing columns, compare, the metric trend across versions, failures and cancel mid-way."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from modelyard.perfmodels import FORMULA_KINDS
from tests.conftest import Api, ended_job_status
from tests.flavors.builders import (
    linear_regression,
    logistic_classifier,
    onnx_bytes,
    skops_bytes,
    training_data,
    upload_version,
)

# y = 3 + 1.2 a by the model; rows: a, y, group
SMALL_CSV = b"a,y,group\n1,4.2,x\n2,5.0,y\n3,7.0,x\n0,3.5,y\n"
DONE = ("succeeded", "failed", "cancelled")


ACTIVE_JOB = ("queued", "running")


def wait_for(api: Api, evaluation_id: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/evaluations/{evaluation_id}").json()
        if body["status"] in DONE or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def dataset(api: Api, name: str, data: bytes, filename: str = "data.csv") -> int:
    r = api.post("/datasets", files={"file": (filename, data)}, data={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def linear_model(api: Api, name: str, intercept: float = 3.0, coef: float = 1.2) -> None:
    if api.get(f"/models/{name}").status_code == 404:
        api.post("/models", json={"name": name})
    parameters = {"kind": "linear", "intercept": intercept, "coef": {"a": coef}}
    assert (
        api.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": parameters}
        ).status_code
        == 201
    )


def evaluate(api: Api, **body: Any) -> dict[str, Any]:
    r = api.post("/evaluations", json=body)
    assert r.status_code == 202, r.text
    return r.json()


def test_formula_evaluation_end_to_end(editor: Api, viewer: Api, unique: str) -> None:
    model, data = f"lin-{unique}", f"small-{unique}"
    linear_model(editor, model)
    dataset_id = dataset(editor, data, SMALL_CSV)
    created = evaluate(
        editor, model=model, dataset=dataset_id, target="y", slice_by="group", chunk_rows=2
    )
    assert created["status"] in ("queued", "running") and created["job"]["kind"] == "evaluation"
    assert created["job_id"] == created["job"]["id"]
    result = wait_for(viewer, created["id"])
    assert result["status"] == "succeeded", result
    metrics = result["metrics"]
    # predictions 4.2, 5.4, 6.6, 3.0 -> errors 0, 0.4, -0.4, -0.5
    assert metrics["count"] == 4
    assert metrics["mae"] == pytest.approx(1.3 / 4)
    assert metrics["rmse"] == pytest.approx(np.sqrt((0.16 + 0.16 + 0.25) / 4))
    assert metrics["mape"] == pytest.approx(100 * (0 + 0.4 / 5 + 0.4 / 7 + 0.5 / 3.5) / 4)
    y = np.array([4.2, 5.0, 7.0, 3.5])
    assert metrics["r2"] == pytest.approx(1 - 0.57 / np.sum((y - y.mean()) ** 2))
    assert metrics["max_error"] == pytest.approx(0.5)
    assert result["progress"] == {"fraction": 1.0, "rows_done": 4, "rows_total": 4}
    assert result["details"]["chunks"] == 2
    slices = result["details"]["slices"]["values"]
    assert slices["x"]["metrics"]["mae"] == pytest.approx(0.2)
    assert slices["y"]["metrics"]["mae"] == pytest.approx(0.45)
    assert result["dataset"] == {"id": dataset_id, "name": data}
    version = viewer.get(f"/models/{model}/versions/1").json()
    assert version["metrics"][f"mape@{data}"] == pytest.approx(metrics["mape"])
    assert set(version["metrics"]) == {f"{m}@{data}" for m in ("mae", "rmse", "mape", "r2")}
    job = viewer.get(f"/jobs/{created['job_id']}")
    assert job.status_code in (200, 404)  # jobs are private to their submitter
    # The job's row ends in its own transaction, just after the evaluation's.
    deadline = time.monotonic() + 60
    while (status := editor.get(f"/jobs/{created['job_id']}").json()["status"]) in ACTIVE_JOB:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == "succeeded"


def test_rows_with_nulls_are_skipped_and_counted(editor: Api, unique: str) -> None:
    linear_model(editor, f"nulls-{unique}")
    dataset_id = dataset(editor, f"nulls-{unique}", b"a,y\n1,4.2\n,5.0\n3,\n2,5.4\n")
    result = wait_for(
        editor, evaluate(editor, model=f"nulls-{unique}", dataset=dataset_id, target="y")["id"]
    )
    assert result["status"] == "succeeded", result
    assert (result["metrics"]["count"], result["details"]["skipped_rows"]) == (2, 2)
    assert result["metrics"]["mae"] == pytest.approx(0.0)


def test_sklearn_classifier_evaluation_with_a_feature_mapping(editor: Api, unique: str) -> None:
    model = f"clf-{unique}"
    editor.post("/models", json={"name": model})
    classifier = logistic_classifier()
    r = upload_version(
        editor, model, "sklearn", skops_bytes(classifier), "m.skops", {"features": ["a", "b"]}
    )
    assert r.status_code == 201, r.text
    x, y = training_data(rows=300, seed=7)
    truth = (y > 8.0).astype(int)
    rows = "\n".join(f"{a},{b},{t}" for (a, b), t in zip(x, truth, strict=True))
    dataset_id = dataset(editor, f"clf-{unique}", f"col_a,col_b,label\n{rows}\n".encode())
    created = evaluate(
        editor,
        model=model,
        dataset=dataset_id,
        target="label",
        features={"a": "col_a", "b": "col_b"},
        chunk_rows=64,
    )
    result = wait_for(editor, created["id"])
    assert result["status"] == "succeeded", result
    assert result["task"] == "classification"
    assert result["features"] == {"a": "col_a", "b": "col_b"}
    predicted = classifier.predict(x)
    scores = classifier.predict_proba(x)[:, 1]
    metrics = result["metrics"]
    assert metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    assert metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted))
    assert metrics["recall"] == pytest.approx(sk.recall_score(truth, predicted))
    assert metrics["f1"] == pytest.approx(sk.f1_score(truth, predicted))
    assert metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, scores))
    confusion = result["details"]["confusion_matrix"]
    assert confusion["labels"] == ["0", "1"]
    assert confusion["matrix"] == sk.confusion_matrix(truth, predicted).tolist()


def test_onnx_regression_evaluation(editor: Api, unique: str) -> None:
    model = f"onnx-{unique}"
    editor.post("/models", json={"name": model})
    regression = linear_regression()
    assert (
        upload_version(
            editor, model, "onnx", onnx_bytes(regression), "m.onnx", {"features": ["a", "b"]}
        ).status_code
        == 201
    )
    x, y = training_data(rows=100, seed=11)
    rows = "\n".join(f"{a},{b},{t}" for (a, b), t in zip(x, y, strict=True))
    dataset_id = dataset(editor, f"onnx-{unique}", f"a,b,y\n{rows}\n".encode())
    result = wait_for(editor, evaluate(editor, model=model, dataset=dataset_id, target="y")["id"])
    assert result["status"] == "succeeded", result
    assert result["metrics"]["mae"] == pytest.approx(
        sk.mean_absolute_error(y, regression.predict(x)), rel=1e-4
    )
    assert result["metrics"]["r2"] == pytest.approx(sk.r2_score(y, regression.predict(x)), rel=1e-4)


def test_missing_columns_and_bad_requests_are_refused_up_front(
    editor: Api, viewer: Api, unique: str
) -> None:
    model = f"cols-{unique}"
    linear_model(editor, model)
    dataset_id = dataset(editor, f"cols-{unique}", b"x,y\n1,2\n")
    r = editor.post("/evaluations", json={"model": model, "dataset": dataset_id, "target": "y"})
    assert r.status_code == 422
    assert "no column 'a'" in r.json()["detail"] and r.json()["missing_columns"] == ["a"]
    labels = dataset(editor, f"labels-{unique}", b"a,y\n1,low\n")
    r = editor.post("/evaluations", json={"model": model, "dataset": labels, "target": "y"})
    assert r.status_code == 422 and "needs numbers" in r.json()["detail"]
    r = editor.post("/evaluations", json={"model": model, "dataset": dataset_id, "target": "truth"})
    assert r.status_code == 422 and "no column 'truth'" in r.json()["detail"]
    r = editor.post(
        "/evaluations",
        json={"model": model, "dataset": dataset_id, "target": "y", "slice_by": "region"},
    )
    assert r.status_code == 422 and "'region'" in r.json()["detail"]
    r = editor.post(
        "/evaluations",
        json={"model": model, "dataset": dataset_id, "target": "y", "features": {"zz": "x"}},
    )
    assert r.status_code == 422 and "'zz'" in r.json()["detail"]
    r = editor.post(
        "/evaluations",
        json={"model": model, "dataset": dataset_id, "target": "y", "features": {"a": "x"}},
    )
    assert r.status_code == 202
    assert (
        editor.post(
            "/evaluations", json={"model": model, "dataset": 10**9, "target": "y"}
        ).status_code
        == 404
    )
    assert (
        editor.post(
            "/evaluations", json={"model": f"{model}@nope", "dataset": dataset_id, "target": "y"}
        ).status_code
        == 404
    )
    assert (
        viewer.post(
            "/evaluations", json={"model": model, "dataset": dataset_id, "target": "y"}
        ).status_code
        == 403
    )
    generic = f"generic-{unique}"
    editor.post("/models", json={"name": generic})
    editor.post(
        f"/models/{generic}/versions",
        files={"file": ("b.bin", b"blob")},
        data={"metadata": '{"flavor": "generic"}'},
    )
    r = editor.post("/evaluations", json={"model": generic, "dataset": dataset_id, "target": "y"})
    assert r.status_code == 400 and "cannot be run" in r.json()["detail"]


def test_a_failing_evaluation_says_why(editor: Api, unique: str) -> None:
    linear_model(editor, f"fail-{unique}")
    dataset_id = dataset(editor, f"fail-{unique}", b"a,y\nlow,1\nhigh,2\n")
    result = wait_for(
        editor, evaluate(editor, model=f"fail-{unique}", dataset=dataset_id, target="y")["id"]
    )
    assert result["status"] == "failed"
    assert "Feature 'a' is not numeric" in result["error"]
    assert result["metrics"] == {}


def test_compare_trend_and_list(editor: Api, viewer: Api, unique: str) -> None:
    model = f"trend-{unique}"
    for intercept in (3.0, 3.5, 2.0):  # versions 1..3: errors shift by the intercept change
        linear_model(editor, model, intercept=intercept)
    first = dataset(editor, f"trend-a-{unique}", SMALL_CSV)
    second = dataset(editor, f"trend-b-{unique}", b"a,y\n1,4.0\n2,5.0\n")
    ids = {}
    for version in (3, 1, 2):
        ids[version] = evaluate(editor, model=model, version=version, dataset=first, target="y")[
            "id"
        ]
    other = evaluate(editor, model=f"{model}/1", dataset=second, target="y")["id"]
    for evaluation_id in [*ids.values(), other]:
        assert wait_for(editor, evaluation_id)["status"] == "succeeded"
    repeat = evaluate(editor, model=model, version=1, dataset=first, target="y")["id"]
    assert wait_for(editor, repeat)["status"] == "succeeded"

    trend = viewer.get(
        f"/models/{model}/metrics", params={"metric": "mae", "dataset": first}
    ).json()
    assert trend["direction"] == "lower"
    assert [p["version"] for p in trend["points"]] == [1, 2, 3]
    assert trend["points"][0]["evaluation_id"] == repeat  # the latest evaluation of version 1
    maes = {p["version"]: p["value"] for p in trend["points"]}
    by_hand = {1: 1.3 / 4, 2: (0.5 + 0.9 + 0.1 + 0.0) / 4}
    assert maes[1] == pytest.approx(by_hand[1]) and maes[2] == pytest.approx(by_hand[2])
    everything = viewer.get(f"/models/{model}/metrics", params={"metric": "mae"}).json()["points"]
    assert [(p["version"], p["dataset"]["id"]) for p in everything] == [
        (1, first),
        (1, second),
        (2, first),
        (3, first),
    ]
    assert (
        viewer.get(f"/models/no-such-{unique}/metrics", params={"metric": "mae"}).status_code == 404
    )

    compared = viewer.get(
        "/evaluations/compare", params={"ids": f"{ids[1]},{ids[2]},{ids[3]}"}
    ).json()
    assert [e["version"] for e in compared["evaluations"]] == [1, 2, 3]
    by_metric = {m["metric"]: m for m in compared["metrics"]}
    assert by_metric["mae"]["best"] == ids[1]
    assert by_metric["mae"]["values"][0] == pytest.approx(by_hand[1])
    assert by_metric["r2"]["direction"] == "higher" and by_metric["r2"]["best"] == ids[1]
    assert "count" not in by_metric
    assert viewer.get("/evaluations/compare", params={"ids": "1,x"}).status_code == 400
    assert viewer.get("/evaluations/compare", params={"ids": str(10**9)}).status_code == 404

    listed = viewer.get("/evaluations", params={"model": model, "dataset": str(first)}).json()[
        "items"
    ]
    assert [e["id"] for e in listed] == sorted([*ids.values(), repeat], reverse=True)
    listed = viewer.get("/evaluations", params={"model": f"{model}/2"}).json()["items"]
    assert [e["id"] for e in listed] == [ids[2]]
    page = viewer.get("/evaluations", params={"model": model, "limit": 2}).json()
    rest = viewer.get("/evaluations", params={"model": model, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) + len(rest["items"]) == 5


def test_an_evaluation_cancelled_halfway(
    editor: Api,
    admin: Api,
    database,
    settings,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    halfway, release = threading.Event(), threading.Event()

    def gated(parameters: Any, features: Any) -> float:
        # A real formula (y = x) that pauses at row 25 of 100 until the test has cancelled.
        if features["x"] == 25:
            halfway.set()
            release.wait(30)
            time.sleep(
                settings.jobs.progress_flush_seconds + 0.05
            )  # the next report reads the cancel back
        return float(features["x"])

    monkeypatch.setitem(FORMULA_KINDS, f"gate_{unique}", gated)
    model = f"gate-{unique}"
    editor.post("/models", json={"name": model})
    parameters = {"kind": f"gate_{unique}", "features": ["x"]}
    r = editor.post(
        f"/models/{model}/versions", json={"flavor": "formula", "parameters": parameters}
    )
    assert r.status_code == 201, r.text
    rows = "".join(f"{i},{i}\n" for i in range(100))
    dataset_id = dataset(editor, f"gate-{unique}", f"x,y\n{rows}".encode())

    created = evaluate(editor, model=model, dataset=dataset_id, target="y", chunk_rows=10)
    assert halfway.wait(30), wait_for(editor, created["id"], timeout=0)
    assert editor.get(f"/evaluations/{created['id']}").json()["status"] == "running"
    cancelled = editor.post(f"/evaluations/{created['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    release.set()
    result = wait_for(editor, created["id"])
    assert result["status"] == "cancelled", result
    assert 0 < result["progress"]["rows_done"] < 100
    assert result["metrics"] == {}
    assert ended_job_status(database, created["job_id"]) == "cancelled"
    assert editor.post(f"/evaluations/{created['id']}/cancel").status_code == 409
    assert editor.get(f"/models/{model}/versions/1").json()["metrics"] == {}

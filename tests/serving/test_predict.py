"""Online predictions: every flavor through the flavor interface, every body format (JSON
records, MLflow's dataframe_split/dataframe_records/inputs/instances, Arrow IPC, CSV), an
alias move seen by the very next request, malformed bodies named, roles."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import Api
from tests.flavors.builders import (
    FEATURES,
    linear_regression,
    logistic_classifier,
    onnx_bytes,
    skops_bytes,
    training_data,
    upload_version,
)

ROWS = [{"a": 1.0, "b": 2.0}, {"a": 4.0, "b": 0.5}]


def _expected(rows: list[dict[str, float]]) -> np.ndarray:
    x = np.array([[r["a"], r["b"]] for r in rows])
    return np.asarray(linear_regression().predict(x))


def _arrow(rows: list[dict[str, float]]) -> bytes:
    table = pa.table({name: [r[name] for r in rows] for name in FEATURES})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


@pytest.fixture
def sklearn_model(editor: Api, unique: str) -> str:
    name = f"serve-sk-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    r = upload_version(
        editor, name, "sklearn", skops_bytes(linear_regression()), "m.skops", {"features": FEATURES}
    )
    assert r.status_code == 201, r.text
    return name


def _predict(api: Api, ref: str, **kwargs: Any) -> Any:
    return api.post(f"/models/{ref}/predict", **kwargs)


@pytest.mark.parametrize(
    "body",
    [
        {"json": ROWS},
        {"json": {"dataframe_records": ROWS}},
        {"json": {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0], [4.0, 0.5]]}}},
        {"json": {"inputs": {"a": [1.0, 4.0], "b": [2.0, 0.5]}}},
        {"json": {"inputs": [[1.0, 2.0], [4.0, 0.5]]}},
        {"json": {"instances": ROWS}},
        {
            "content": _arrow(ROWS),
            "headers": {"content-type": "application/vnd.apache.arrow.stream"},
        },
        {"content": b"b,a\n2.0,1.0\n0.5,4.0\n", "headers": {"content-type": "text/csv"}},
    ],
    ids=[
        "records",
        "df_records",
        "df_split",
        "inputs_columns",
        "inputs_rows",
        "instances",
        "arrow",
        "csv",
    ],
)
def test_every_body_format(viewer: Api, sklearn_model: str, body: dict[str, Any]) -> None:
    r = _predict(viewer, sklearn_model, **body)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pytest.approx(_expected(ROWS).tolist())
    assert r.json()["version"] == 1 and r.headers["x-modelyard-version"] == f"{sklearn_model}/1"


def test_each_flavor(editor: Api, viewer: Api, unique: str) -> None:
    x, _ = training_data()
    rows = [{"a": float(x[i, 0]), "b": float(x[i, 1])} for i in range(5)]
    name = f"serve-flavors-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    formula = {"kind": "linear", "intercept": 3.0, "coef": {"a": 1.5, "b": -0.5}}
    assert (
        editor.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": formula}
        ).status_code
        == 201
    )
    assert (
        upload_version(
            editor, name, "onnx", onnx_bytes(linear_regression()), "m.onnx", {"features": FEATURES}
        ).status_code
        == 201
    )
    classifier = logistic_classifier()
    assert (
        upload_version(
            editor, name, "sklearn", skops_bytes(classifier), "c.skops", {"features": FEATURES}
        ).status_code
        == 201
    )

    got = _predict(viewer, f"{name}/1", json=rows).json()
    assert got["predictions"] == pytest.approx([3.0 + 1.5 * r["a"] - 0.5 * r["b"] for r in rows])
    onnx = _predict(viewer, f"{name}/2", json=rows).json()
    assert onnx["predictions"] == pytest.approx(_expected(rows).tolist(), rel=1e-4)
    labels = _predict(viewer, f"{name}/3", json=rows).json()
    matrix = np.array([[r["a"], r["b"]] for r in rows])
    assert labels["predictions"] == classifier.predict(matrix).tolist()
    assert labels["classes"] == [0, 1]
    assert np.allclose(labels["scores"], classifier.predict_proba(matrix))
    assert _predict(viewer, name, json=rows).json()["version"] == 3  # `name` is the latest


def test_an_alias_move_is_seen_by_the_next_request(editor: Api, viewer: Api, unique: str) -> None:
    name = f"serve-alias-{unique}"
    assert editor.post("/models", json={"name": name}).status_code == 201
    for intercept in (1.0, 100.0):
        parameters = {"kind": "linear", "intercept": intercept, "coef": {"a": 1.0}}
        editor.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": parameters}
        )
    editor.put(f"/models/{name}/aliases/production", json={"version": 1})
    row = [{"a": 1.0}]
    assert _predict(viewer, f"{name}@production", json=row).json()["predictions"] == [2.0]
    assert _predict(viewer, f"{name}@production", json=row).json()["predictions"] == [2.0]
    editor.put(f"/models/{name}/aliases/production", json={"version": 2})
    moved = _predict(viewer, f"{name}@production", json=row).json()
    assert moved["predictions"] == [101.0] and moved["version"] == 2


def test_malformed_bodies_are_named(viewer: Api, sklearn_model: str) -> None:
    missing = _predict(viewer, sklearn_model, json=[{"a": 1.0}])
    assert missing.status_code == 400 and "'b'" in missing.json()["detail"]
    assert missing.json()["missing"] == ["b"]
    text = _predict(viewer, sklearn_model, json=[{"a": 1.0, "b": "lots"}])
    assert text.status_code == 400 and "'b'" in text.json()["detail"]
    ragged = _predict(viewer, sklearn_model, json=[{"a": 1.0, "b": 2.0}, {"a": 1.0}])
    assert ragged.status_code == 400 and "Row 1" in ragged.json()["detail"]
    short = _predict(viewer, sklearn_model, json={"inputs": [[1.0]]})
    assert short.status_code == 400 and "a, b" in short.json()["detail"]
    bad_json = _predict(
        viewer, sklearn_model, content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    unknown = _predict(viewer, sklearn_model, json={"rows": ROWS})
    assert unknown.status_code == 400 and "dataframe_split" in unknown.json()["detail"]
    xml = _predict(viewer, sklearn_model, content=b"<a/>", headers={"content-type": "text/xml"})
    assert xml.status_code == 415
    assert _predict(viewer, "no-such-model-anywhere", json=ROWS).status_code == 404


def test_roles_and_runnable_flavors(
    anonymous: Api, viewer: Api, editor: Api, sklearn_model: str, unique: str
) -> None:
    refused = _predict(anonymous, sklearn_model, json=ROWS)
    assert refused.status_code == 401
    assert _predict(viewer, sklearn_model, json=ROWS).status_code == 200
    opaque = f"serve-generic-{unique}"
    editor.post("/models", json={"name": opaque})
    editor.post(f"/models/{opaque}/versions", json={"flavor": "generic"})
    r = _predict(viewer, opaque, json=ROWS)
    assert r.status_code == 400 and "cannot be run" in r.json()["detail"]

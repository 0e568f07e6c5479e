"""Loading each flavor safely: round trips through the registry, trusted types only, no
pickles, no ONNX external data, and clear refusals."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from modelyard.flavors import FlavorError, load_model
from modelyard.perfmodels import FORMULA_KINDS
from modelyard.registry.artifacts import ArtifactStore
from modelyard.registry.service import resolve
from modelyard.storage import open_store
from tests.conftest import Api
from tests.flavors.builders import (
    linear_regression,
    logistic_classifier,
    onnx_bytes,
    skops_bytes,
    training_data,
    upload_version,
    write,
)

COLUMNS = {"a": np.array([1.0, 2.0, 5.0]), "b": np.array([0.0, 4.0, 1.0])}
X = np.column_stack([COLUMNS["a"], COLUMNS["b"]])


def _stored_model(editor: Api, database, settings, ref: str):  # type: ignore[no-untyped-def]
    with database.session() as session:
        found = resolve(session, ref)
    path = (
        ArtifactStore.of(open_store(settings), settings).open(found.artifact_sha256)
        if found.artifact_sha256
        else None
    )
    return load_model(found.flavor, found.parameters, path)


def test_linear_formula_round_trip(editor: Api, database, settings, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"lin-{unique}"
    editor.post("/models", json={"name": name})
    parameters = {"kind": "linear", "intercept": 3.0, "coef": {"a": 1.2, "b": -0.5}}
    assert (
        editor.post(
            f"/models/{name}/versions", json={"flavor": "formula", "parameters": parameters}
        ).status_code
        == 201
    )
    model = _stored_model(editor, database, settings, name)
    assert (model.task, model.features) == ("regression", ("a", "b"))
    prediction = model.predict(COLUMNS).values
    assert prediction.tolist() == pytest.approx(
        [3.0 + 1.2 * 1 - 0.5 * 0, 3.0 + 2.4 - 2.0, 3.0 + 6.0 - 0.5]
    )


def test_sklearn_round_trip(editor: Api, database, settings, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"skl-{unique}"
    editor.post("/models", json={"name": name})
    original = linear_regression()
    r = upload_version(
        editor, name, "sklearn", skops_bytes(original), "model.skops", {"features": ["a", "b"]}
    )
    assert r.status_code == 201, r.text
    model = _stored_model(editor, database, settings, name)
    assert (model.flavor, model.task, model.features) == ("sklearn", "regression", ("a", "b"))
    np.testing.assert_allclose(model.predict(COLUMNS).values, original.predict(X))


def test_sklearn_classifier_scores(tmp_path: Path) -> None:
    original = logistic_classifier()
    model = load_model(
        "sklearn", {"features": ["a", "b"]}, write(tmp_path, "c.skops", skops_bytes(original))
    )
    assert (model.task, model.classes) == ("classification", (0, 1))
    prediction = model.predict(COLUMNS)
    np.testing.assert_array_equal(prediction.values, original.predict(X))
    np.testing.assert_allclose(prediction.scores, original.predict_proba(X))


def test_onnx_round_trip(editor: Api, database, settings, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"onnx-{unique}"
    editor.post("/models", json={"name": name})
    original = linear_regression()
    r = upload_version(
        editor, name, "onnx", onnx_bytes(original), "model.onnx", {"features": ["a", "b"]}
    )
    assert r.status_code == 201, r.text
    model = _stored_model(editor, database, settings, name)
    assert (model.flavor, model.task, model.features) == ("onnx", "regression", ("a", "b"))
    np.testing.assert_allclose(model.predict(COLUMNS).values, original.predict(X), rtol=1e-5)


@pytest.mark.parametrize("zipmap", [False, True])
def test_onnx_classifier_with_and_without_zipmap(tmp_path: Path, zipmap: bool) -> None:
    original = logistic_classifier()
    model = load_model(
        "onnx",
        {"features": ["a", "b"]},
        write(tmp_path, "c.onnx", onnx_bytes(original, zipmap=zipmap)),
    )
    assert model.task == "classification"
    prediction = model.predict(COLUMNS)
    np.testing.assert_array_equal(prediction.values, original.predict(X))
    np.testing.assert_allclose(prediction.scores, original.predict_proba(X), atol=1e-5)
    assert model.classes == (0, 1)


def test_onnx_with_one_input_per_column(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["a", "b"], ["y"])],
        "product",
        [helper.make_tensor_value_info(n, TensorProto.DOUBLE, [None]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None])],
    )
    onnx_model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 15)])
    model = load_model("onnx", {}, write(tmp_path, "m.onnx", onnx_model.SerializeToString()))
    assert model.features == ("a", "b")
    assert model.predict(COLUMNS).values.tolist() == [0.0, 8.0, 5.0]


def test_onnx_external_data_is_refused(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "w")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "secret.bin"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    weight.ClearField("raw_data")
    write(tmp_path, "secret.bin", b"\x01" * 16)  # beside the model: must still not be read
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [weight],
    )
    onnx_model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 15)])
    with pytest.raises(FlavorError, match="could not be loaded by onnxruntime"):
        load_model("onnx", {}, write(tmp_path, "m.onnx", onnx_model.SerializeToString()))


def test_untrusted_skops_types_are_refused(editor: Api, unique: str, tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    name = f"evil-{unique}"
    editor.post("/models", json={"name": name})
    r = upload_version(
        editor, name, "sklearn", skops_bytes(FunctionTransformer(os.system)), "m.skops"
    )
    assert r.status_code == 422
    assert "posix.system" in r.json()["detail"] and "does not trust" in r.json()["detail"]
    assert r.json()["types"] == ["posix.system"]
    assert editor.get(f"/models/{name}/versions").json()["items"] == []


def test_scikit_learn_functions_are_not_trusted(editor: Api, unique: str) -> None:
    """Classes of scikit-learn are trusted, its functions are not: a FunctionTransformer
    would call one (here a download from the internet) on every prediction."""
    from sklearn.datasets import fetch_openml
    from sklearn.preprocessing import FunctionTransformer

    name = f"fetch-{unique}"
    editor.post("/models", json={"name": name})
    r = upload_version(
        editor,
        name,
        "sklearn",
        skops_bytes(FunctionTransformer(func=fetch_openml)),
        "m.skops",
        {"features": ["a", "b"]},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["types"] == ["sklearn.datasets._openml.fetch_openml"]
    assert "sklearn.datasets._openml.fetch_openml" in r.json()["detail"]
    assert editor.get(f"/models/{name}/versions").json()["items"] == []


def test_trusted_classes_are_scikit_learn_classes_only() -> None:
    from modelyard.flavors._sklearn import is_trusted_class

    assert is_trusted_class("sklearn.tree._tree.Tree")
    assert is_trusted_class("sklearn.metrics._dist_metrics.EuclideanDistance64")
    assert is_trusted_class("sklearn.neighbors._kd_tree.KDTree")
    for name in [
        "sklearn.datasets._openml.fetch_openml",
        "sklearn.utils.estimator_checks.check_estimator",
        "sklearn.base.BaseEstimator.get_params",
        "sklearn.no_such_module.Thing",
        "sklearn..tree",
        "sklearnx.Thing",
        "os.system",
    ]:
        assert not is_trusted_class(name), name


def test_scikit_learn_internal_types_are_trusted(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, y = training_data()
    original = HistGradientBoostingRegressor(max_iter=5).fit(x, y)
    model = load_model(
        "sklearn", {"features": ["a", "b"]}, write(tmp_path, "h.skops", skops_bytes(original))
    )
    np.testing.assert_allclose(model.predict(COLUMNS).values, original.predict(X))


@pytest.mark.parametrize("filename", ["model.pkl", "model.joblib", "model.skops"])
def test_pickles_are_refused_at_upload(editor: Api, unique: str, filename: str) -> None:
    name = f"pkl-{unique}"
    editor.post("/models", json={"name": name})
    r = upload_version(editor, name, "sklearn", pickle.dumps({"weights": [1, 2]}), filename)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert (
        "Pickle and joblib files are refused" in detail and "skops" in detail and "ONNX" in detail
    )


def test_the_loader_refuses_pickles_whatever_the_flavor_says(tmp_path: Path) -> None:
    path = write(tmp_path, "0" * 64, pickle.dumps([1, 2, 3]))
    for flavor in ("sklearn", "onnx"):
        with pytest.raises(FlavorError, match="Pickle and joblib files are refused"):
            load_model(flavor, {}, path)


def test_refusals_say_what_to_do(editor: Api, unique: str, tmp_path: Path) -> None:
    name = f"bad-{unique}"
    editor.post("/models", json={"name": name})
    r = upload_version(editor, name, "sklearn", b"not a zip", "m.skops")
    assert r.status_code == 400 and "not a skops file" in r.json()["detail"]
    r = upload_version(editor, name, "onnx", b"\x08\x01garbage", "m.onnx")
    assert r.status_code == 400 and "onnxruntime" in r.json()["detail"]
    r = upload_version(editor, name, "sklearn", skops_bytes(linear_regression()), "m.skops")
    assert r.status_code == 400 and "`parameters.features`" in r.json()["detail"]
    r = upload_version(editor, name, "onnx", onnx_bytes(linear_regression()), "m.onnx")
    assert r.status_code == 400 and "`parameters.features`" in r.json()["detail"]
    r = upload_version(
        editor, name, "sklearn", skops_bytes(linear_regression()), "m.skops", {"features": ["a"]}
    )
    assert r.status_code == 400 and "takes 2 features" in r.json()["detail"]
    with pytest.raises(FlavorError, match="cannot be run"):
        load_model("generic", {}, write(tmp_path, "blob", b"data"))
    with pytest.raises(FlavorError, match="Unknown formula kind"):
        load_model("formula", {"kind": "quadratic"}, None)


def test_linear_formula_refuses_text_features() -> None:
    model = load_model("formula", {"kind": "linear", "coef": {"a": 1.0}}, None)
    with pytest.raises(FlavorError, match="Feature 'a' is not numeric"):
        model.predict({"a": np.array(["x", "y"], dtype=object)})


PROFILE = {
    "foreground_cpu_sec_per_op": 8e-6,
    "flush_costs": {"default": {"cpu_sec_per_record": 0.5e-6, "cpu_sec_per_byte": 1e-9}},
    "compaction_costs": {"default": {"cpu_sec_per_record": 1e-6, "cpu_sec_per_byte": 2e-9}},
}


@pytest.mark.parametrize("kind", sorted(FORMULA_KINDS))
def test_smax_formula_kinds_predict_row_by_row(kind: str) -> None:
    parameters = {"kind": kind, "profile": PROFILE}
    model = load_model("formula", parameters, None)
    assert {"value_size", "db_bench_args", "threads"} <= model.optional_features
    columns = {
        "value_size": np.array([400, 100, 400, 400]),
        "compression_type": np.array(["none", "none", "none", "none"], dtype=object),
    }
    values = model.predict(columns).values
    for row, size in enumerate(columns["value_size"]):
        expected = FORMULA_KINDS[kind](
            parameters, {"value_size": int(size), "compression_type": "none"}
        )
        assert values[row] == pytest.approx(expected.smax_ops_per_sec)
    assert values[0] == values[2] == values[3]


def test_one_row_and_a_batch_agree_for_every_runnable_flavor(tmp_path: Path) -> None:
    linear = load_model("formula", {"kind": "linear", "coef": {"a": 2.0}, "intercept": 1.0}, None)
    row = linear.predict_row({"a": 3, "other": "ignored"})
    assert (row.value, row.binding) == (7.0, "linear")
    assert linear.predict({"a": np.array([3.0])}).values.tolist() == [row.value]

    regressor = linear_regression()
    sklearn = load_model(
        "sklearn", {"features": ["a", "b"]}, write(tmp_path, "r.skops", skops_bytes(regressor))
    )
    onnx = load_model(
        "onnx", {"features": ["a", "b"]}, write(tmp_path, "r.onnx", onnx_bytes(regressor))
    )
    for model in (sklearn, onnx):
        batch = model.predict(COLUMNS).values
        rows = [model.predict_row({"a": a, "b": b}).value for a, b in X.tolist()]
        np.testing.assert_allclose(rows, batch, rtol=1e-5)
        assert all(isinstance(value, float) for value in rows)  # plain values, not numpy's

    classifier = load_model(
        "sklearn",
        {"features": ["a", "b"]},
        write(tmp_path, "c.skops", skops_bytes(logistic_classifier())),
    )
    scored = classifier.predict_row({"a": 1.0, "b": 0.0})
    assert scored.scores is not None and sum(scored.scores.values()) == pytest.approx(1.0)
    assert str(scored.value) in scored.scores


def test_a_missing_feature_is_refused_with_one_text(tmp_path: Path) -> None:
    linear = load_model("formula", {"kind": "linear", "coef": {"a": 1.0, "b": 1.0}}, None)
    sklearn = load_model(
        "sklearn",
        {"features": ["a", "b"]},
        write(tmp_path, "r.skops", skops_bytes(linear_regression())),
    )
    refusal = "The model needs feature 'b', which the input lacks."
    for call in (
        lambda: linear.predict_row({"a": 1.0}),
        lambda: linear.predict({"a": np.array([1.0])}),
        lambda: sklearn.predict_row({"a": 1.0}),
    ):
        with pytest.raises(FlavorError) as refused:
            call()
        assert refused.value.detail == refusal

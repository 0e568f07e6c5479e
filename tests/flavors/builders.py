"""Small real models of each flavor (and their files) for the flavor and evaluation tests."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = ["a", "b"]


def training_data(rows: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((rows, 2)) * 10
    y = 3.0 + 1.5 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(0, 0.1, rows)
    return x, y


def linear_regression() -> Any:
    from sklearn.linear_model import LinearRegression

    x, y = training_data()
    return LinearRegression().fit(x, y)


def logistic_classifier() -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = training_data()
    return LogisticRegression().fit(x, (y > np.median(y)).astype(int))


def skops_bytes(model: Any) -> bytes:
    import skops.io

    return bytes(skops.io.dumps(model))


def onnx_bytes(model: Any, *, zipmap: bool = False) -> bytes:
    from skl2onnx import to_onnx

    sample = np.zeros((1, 2), dtype=np.float32)
    options = {id(model): {"zipmap": zipmap}} if hasattr(model, "predict_proba") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(to_onnx(model, sample, options=options, target_opset=15).SerializeToString())


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def upload_version(
    api: Any,
    model: str,
    flavor: str,
    data: bytes,
    filename: str,
    parameters: dict[str, Any] | None = None,
):  # type: ignore[no-untyped-def]
    metadata = {"flavor": flavor, "parameters": parameters or {}}
    return api.post(
        f"/models/{model}/versions",
        files={"file": (filename, io.BytesIO(data))},
        data={"metadata": json.dumps(metadata)},
    )

"""``onnx`` models, run by onnxruntime on the CPU.

The model is loaded from bytes, never from a path: onnxruntime then refuses external
tensor data altogether, so a crafted model cannot make the server read files beside it
(``../../etc/...`` locations are refused in any case).

Inputs: either one matrix input ``[batch, n]`` whose columns are named by
``parameters.features``, or one input per feature (``[batch]`` or ``[batch, 1]``), named
like the dataset's columns. Outputs: the first is the prediction; for a classifier (an
integer or string first output, as skl2onnx writes them) the output whose name contains
``prob`` gives the class probabilities, as a tensor (skl2onnx ``zipmap=False``) or a
sequence of maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.flavors._base import TASKS, FlavorError, LoadedModel, Prediction, feature_list
from modelyard.kit.extras import needs

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(string)": np.object_,
    "tensor(bool)": np.bool_,
}
_LABEL_TYPES = {"tensor(int64)", "tensor(int32)", "tensor(string)"}


class OnnxModel(LoadedModel):
    flavor = "onnx"

    def __init__(self, path: Path, parameters: Mapping[str, Any]) -> None:
        with needs("onnx"):
            import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                path.read_bytes(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise FlavorError(f"The ONNX file could not be loaded by onnxruntime: {exc}") from exc
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if not inputs or not outputs:
            raise FlavorError("The ONNX model has no inputs or no outputs.")
        for node in inputs:
            if node.type not in _DTYPES:
                raise FlavorError(
                    f"ONNX input '{node.name}' has type {node.type}, which modelyard cannot feed."
                )
        named = feature_list(parameters)
        shape = inputs[0].shape
        width = shape[1] if len(inputs) == 1 and len(shape) == 2 else None
        self.matrix_input = (
            len(inputs) == 1 and len(shape) == 2 and (named is not None or width != 1)
        )
        if self.matrix_input:
            if named is None:
                raise FlavorError(
                    f"The ONNX model takes one matrix '{inputs[0].name}' of {width or 'n'} columns; "
                    "add `parameters.features` (the column names in input order) to the version."
                )
            if isinstance(width, int) and width != len(named):
                raise FlavorError(
                    f"The ONNX input takes {width} columns but `parameters.features` names {len(named)}."
                )
            self.features = named
        else:
            self.features = tuple(node.name for node in inputs)
        self.inputs = [(node.name, _DTYPES[node.type], len(node.shape)) for node in inputs]
        self.label_output = outputs[0].name
        probability = [o.name for o in outputs[1:] if "prob" in o.name.lower()]
        self.score_output = probability[0] if probability else None
        task = parameters.get("task")
        if task is not None and task not in TASKS:
            raise FlavorError(f"`parameters.task` must be one of {', '.join(TASKS)}.")
        self.task = task or ("classification" if outputs[0].type in _LABEL_TYPES else "regression")
        classes = parameters.get("classes")
        self.classes = tuple(classes) if isinstance(classes, list) else None

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        feed: dict[str, np.ndarray] = {}
        if self.matrix_input:
            name, dtype, _ = self.inputs[0]
            feed[name] = np.column_stack(
                [columns[f].astype(dtype, copy=False) for f in self.features]
            )
        else:
            for name, dtype, rank in self.inputs:
                values = columns[name].astype(dtype, copy=False)
                feed[name] = values.reshape(-1, 1) if rank == 2 else values
        wanted = [self.label_output] + (
            [self.score_output] if self.score_output and self.task == "classification" else []
        )
        try:
            results = self.session.run(wanted, feed)
        except Exception as exc:
            raise FlavorError(f"onnxruntime could not run the model: {exc}") from exc
        values = np.asarray(results[0])
        rows = len(next(iter(feed.values())))
        values = values.reshape(rows) if values.size == rows else values
        scores = self._scores(results[1]) if len(results) > 1 else None
        return Prediction(
            values.astype(np.float64) if self.task == "regression" else values, scores
        )

    def _scores(self, raw: Any) -> np.ndarray:
        if isinstance(raw, list):  # a sequence of {class: probability} maps (ZipMap)
            if self.classes is None and raw:
                self.classes = tuple(raw[0].keys())
            order = self.classes or ()
            return np.array([[row[c] for c in order] for row in raw], dtype=np.float64)
        scores = np.asarray(raw, dtype=np.float64)
        if self.classes is None:
            self.classes = tuple(range(scores.shape[1]))
        return scores

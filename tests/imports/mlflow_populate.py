"""Fill an MLflow tracking server with the registry the import tests read, using the real
MLflow client. Runs in the MLflow peer's venv (scripts/mlflow-venv.sh), not modelyard's:

    .venv-mlflow/bin/python tests/imports/mlflow_populate.py http://127.0.0.1:PORT

- ``sales forecast`` (a name modelyard rewrites): version 1, scikit-learn saved as skops with
  a column signature, its run's params and metrics, a description, a version tag and the
  alias ``champion``; version 2, the same model saved with cloudpickle (listed, not loaded);
  the model tag ``team``.
- ``churn-onnx``: version 1, an ONNX model (skl2onnx) with a column signature.
- a third skops model logged but not registered: the test registers it later, through the
  REST API, as a change for the second import. Its source and run are printed as JSON.
"""

from __future__ import annotations

import json
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
mlflow.set_experiment("modelyard-import")

X = pd.DataFrame({"x1": np.arange(20.0), "x2": np.arange(20.0) % 7})
y = 2.0 * X["x1"] + 3.0 * X["x2"] + 1.0
signature = infer_signature(X, y)
SALES = "sales forecast"
# Named requirements spare MLflow its requirement inference (a subprocess per model).
SKLEARN = ["scikit-learn", "skops"]

with mlflow.start_run():
    mlflow.log_params({"alpha": 0.1, "features": "x1,x2"})
    mlflow.log_metric("rmse", 0.5, step=0)
    mlflow.log_metric("rmse", 0.25, step=1)
    mlflow.log_metric("r2", 0.99)
    mlflow.sklearn.log_model(
        LinearRegression().fit(X, y),
        name="model",
        serialization_format="skops",
        signature=signature,
        pip_requirements=SKLEARN,
        registered_model_name=SALES,
    )
with mlflow.start_run():
    mlflow.log_metric("rmse", 0.3)
    mlflow.sklearn.log_model(
        LinearRegression().fit(X, y),
        name="model",
        serialization_format="cloudpickle",
        signature=signature,
        pip_requirements=["scikit-learn", "cloudpickle"],
        registered_model_name=SALES,
    )
client.update_registered_model(SALES, description="Weekly sales")
client.set_registered_model_tag(SALES, "team", "ops")
client.update_model_version(SALES, "1", description="first fit")
client.set_model_version_tag(SALES, "1", "validated", "yes")
client.set_registered_model_alias(SALES, "champion", "1")

with mlflow.start_run():
    onnx_model = to_onnx(LinearRegression().fit(X, y), X.to_numpy(np.float32)[:1])
    mlflow.onnx.log_model(
        onnx_model,
        name="model",
        signature=signature,
        pip_requirements=["onnx", "onnxruntime"],
        registered_model_name="churn-onnx",
    )

with mlflow.start_run() as later:
    mlflow.log_metric("rmse", 0.125)
    info = mlflow.sklearn.log_model(
        LinearRegression().fit(X, y),
        name="model",
        serialization_format="skops",
        signature=signature,
        pip_requirements=SKLEARN,
    )
print(json.dumps({"source": info.model_uri, "run_id": later.info.run_id}))

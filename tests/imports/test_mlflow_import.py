"""``modelyard import mlflow`` against a real ``mlflow server``, filled by the real MLflow
client (tests/imports/mlflow_populate.py): models, versions with their numbers, run metrics
and params, tags, aliases, the skops and ONNX files (loaded), a cloudpickle version listed
and not loaded; then a second run that imports only what changed, a protected alias the
import may not move, and a third run that changes nothing.

MLflow runs from its own venv (scripts/mlflow-venv.sh, made once per checkout), on a free
port, without its job runner; everything started is stopped by process group.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[2]
POPULATE = Path(__file__).with_name("mlflow_populate.py")
START_SECONDS = 300.0
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@dataclass
class MlflowServer:
    url: str
    later_source: str
    later_run: str

    def rest(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        response = httpx.request(method, f"{self.url}/api/2.0/mlflow{path}", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    made = subprocess.run(
        ["bash", str(ROOT / "scripts" / "mlflow-venv.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    bin_dir = Path(made.stdout.strip().splitlines()[-1])
    home = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(bin_dir / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{home / 'mlflow.db'}",
            "--artifacts-destination",
            str(home / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, (home / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        filled = subprocess.run(
            [str(bin_dir / "python"), str(POPULATE), url],
            capture_output=True,
            text=True,
            timeout=900,
            env=os.environ | {"GIT_PYTHON_REFRESH": "quiet"},
        )
        assert filled.returncode == 0, filled.stderr[-3000:]
        later = json.loads(filled.stdout.strip().splitlines()[-1])
        yield MlflowServer(url, later["source"], later["run_id"])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def _import(api: Api, server: MlflowServer) -> dict[str, Any]:
    response = api.post("/imports/mlflow", json={"tracking_uri": server.url})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 300
    while True:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    assert job["kind"] == "import.mlflow" and job["progress"]["fraction"] == 1.0
    result: dict[str, Any] = job["result"]
    assert result["failures"] == [], result["failures"]
    return result


def test_import_from_a_real_mlflow_server_then_only_what_changed(
    mlflow_server: MlflowServer, admin: Api, editor: Api, viewer: Api, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one MLflow server, imported once: the registry services run on both backends")
    first = _import(editor, mlflow_server)
    assert first["models"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert first["versions"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert first["artifacts_imported"] == 2
    assert first["renamed"] == [{"mlflow": "sales forecast", "modelyard": "sales-forecast"}]
    assert [(s["model"], s["version"]) for s in first["without_artifact"]] == [
        ("sales forecast", 2)
    ]
    assert "cloudpickle" in first["without_artifact"][0]["reason"]
    assert first["aliases"] == {"set": 1, "unchanged": 0, "refused": 0}

    model = viewer.get("/models/sales-forecast").json()
    assert model["description"] == "Weekly sales" and model["aliases"] == {"champion": 1}
    assert model["tags"] == {"team": "ops", "mlflow.name": "sales forecast"}
    v1 = viewer.get("/models/sales-forecast/versions/1").json()
    assert v1["flavor"] == "sklearn" and v1["description"] == "first fit"
    assert v1["metrics"] == {"rmse": 0.25, "r2": 0.99}
    assert v1["parameters"] == {
        "alpha": "0.1",
        "mlflow.features": "x1,x2",
        "features": ["x1", "x2"],
    }
    assert v1["tags"]["validated"] == "yes" and v1["tags"]["mlflow.version"] == "1"
    assert v1["tags"]["mlflow.status"] == "READY" and len(v1["tags"]["mlflow.run_id"]) == 32
    assert v1["source"].startswith("models:/m-") and v1["artifact"]["filename"] == "model.skops"
    skops_file = viewer.get("/models/sales-forecast/versions/1/artifact")
    assert zipfile.is_zipfile(io.BytesIO(skops_file.content))  # skops, never a pickle
    v2 = viewer.get("/models/sales-forecast/versions/2").json()
    assert v2["flavor"] == "generic" and v2["artifact"] is None
    assert v2["tags"]["mlflow.flavors"] == "python_function,sklearn"
    onnx = viewer.get("/models/churn-onnx/versions/1").json()
    assert onnx["flavor"] == "onnx" and onnx["artifact"]["filename"] == "model.onnx"
    assert onnx["parameters"]["features"] == ["x1", "x2"]

    # changes in MLflow: a new version (number 3), an edited description, the alias moved
    mlflow_server.rest(
        "POST",
        "/model-versions/create",
        name="sales forecast",
        source=mlflow_server.later_source,
        run_id=mlflow_server.later_run,
        model_id=mlflow_server.later_source.rsplit("/", 1)[-1],
    )
    mlflow_server.rest(
        "PATCH", "/model-versions/update", name="sales forecast", version="1", description="refit"
    )
    mlflow_server.rest(
        "POST", "/registered-models/alias", name="sales forecast", alias="champion", version="3"
    )
    # champion is protected here: an editor's import may not move it
    assert (
        admin.put("/models/sales-forecast/aliases/champion/protection", json={}).status_code == 200
    )

    second = _import(editor, mlflow_server)
    assert second["models"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert second["versions"] == {"created": 1, "updated": 1, "unchanged": 2}
    assert second["artifacts_imported"] == 1 and second["without_artifact"] == []
    assert second["aliases"] == {"set": 0, "unchanged": 0, "refused": 1}
    assert "only an admin" in second["refused_aliases"][0]["error"]
    v3 = viewer.get("/models/sales-forecast/versions/3").json()
    assert v3["flavor"] == "sklearn" and v3["metrics"] == {"rmse": 0.125}
    assert viewer.get("/models/sales-forecast/versions/1").json()["description"] == "refit"
    assert viewer.get("/models/sales-forecast").json()["aliases"] == {"champion": 1}

    third = _import(admin, mlflow_server)  # an admin's import moves it
    assert third["versions"] == {"created": 0, "updated": 0, "unchanged": 4}
    assert third["artifacts_imported"] == 0 and third["models"]["unchanged"] == 2
    assert third["aliases"] == {"set": 1, "unchanged": 0, "refused": 0}
    assert viewer.get("/models/sales-forecast").json()["aliases"] == {"champion": 3}

    fourth = _import(editor, mlflow_server)
    assert fourth["versions"]["unchanged"] == 4 and fourth["aliases"]["unchanged"] == 1
    assert fourth["versions"]["created"] == fourth["versions"]["updated"] == 0


def test_refused_hosts_and_roles(editor: Api, viewer: Api) -> None:
    body = {"tracking_uri": "http://10.1.2.3:5000"}
    refused = editor.post("/imports/mlflow", json=body)
    assert refused.status_code == 422 and "imports.mlflow_hosts" in refused.json()["detail"]
    assert (
        viewer.post("/imports/mlflow", json={"tracking_uri": "http://127.0.0.1:9"}).status_code
        == 403
    )
    assert editor.post("/imports/mlflow", json={"tracking_uri": "file:///tmp"}).status_code == 422

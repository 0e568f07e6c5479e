"""A client generated from ``/openapi.json`` by openapi-python-client, with no warning.

The generator runs from its own virtual environment (its pins, typer and httpx, differ from
the product's), created once under ``.venv/tools/`` at the pinned version and reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.app import create_app
from tests.conftest import make_settings

VERSION = "0.29.1"
ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / ".venv" / "tools" / f"openapi-python-client-{VERSION}"

pytestmark = pytest.mark.slow

OCTETS = "application/octet-stream"
BYTES_BODIES = ("application/vnd.apache.arrow.stream", "text/csv")


def _generator() -> Path:
    executable = TOOL / "bin" / "openapi-python-client"
    if not executable.exists():
        uv = Path(sys.executable).with_name("uv")
        subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(TOOL)], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "-q", "--python", str(TOOL / "bin" / "python"),
             f"openapi-python-client=={VERSION}"],
            check=True,
            timeout=600,
        )  # fmt: skip
    return executable


def test_openapi_python_client_generates_every_operation_without_warnings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    document = create_app(make_settings(home, f"sqlite:///{home / 'db'}")).openapi()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    # The generator knows JSON, forms and octet-stream bodies; the predict endpoint's Arrow and
    # CSV bodies are bytes to it, as its documented content_type_overrides say.
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"content_type_overrides": dict.fromkeys(BYTES_BODIES, OCTETS)}))
    # ruff formats the generated code; without it on PATH the generator warns.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = subprocess.run(
        [str(_generator()), "generate", "--path", str(spec), "--meta", "none",
         "--config", str(config),
         "--output-path", str(tmp_path / "generated")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PATH": path},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower() and "unable" not in output.lower(), output
    # one module per operation, named after its id: models.create -> api/models/models_create.py
    generated = {p.stem for p in (tmp_path / "generated" / "api").rglob("*.py")} - {"__init__"}
    operations = {
        op["operationId"].replace(".", "_")
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert operations - generated == set()

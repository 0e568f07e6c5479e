"""A missing optional part names the extra to install: in a job's error and as a 501 problem."""

from __future__ import annotations

import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelyard.kit.errors import install_handlers
from modelyard.kit.extras import EXTRAS, MissingExtra, needs


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_a_missing_library_names_its_extra(extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = EXTRAS[extra][1][0]
    # None in sys.modules is the import system's "not installed", even for a module an
    # earlier test imported (kit.optional_imports.hidden leaves those visible).
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtra) as missing, needs(extra):
        __import__(module)
    assert f"pip install 'modelyard[{extra}]'" in str(missing.value)
    assert isinstance(missing.value, ImportError)


def test_other_import_errors_pass_through() -> None:
    with pytest.raises(ModuleNotFoundError), needs("onnx"):
        __import__("modelyard_no_such_module")


def test_the_api_answers_501_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    app = FastAPI()
    install_handlers(app)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)

    @app.get("/predict")
    def predict() -> None:
        with needs("onnx"):
            __import__("onnxruntime")

    answer = TestClient(app).get("/predict")
    assert answer.status_code == 501
    body = answer.json()
    assert body["type"] == "/problems#missing-extra" and body["extra"] == "onnx"
    assert "modelyard[onnx]" in body["detail"]

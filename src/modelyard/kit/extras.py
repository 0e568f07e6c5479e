"""The optional parts of the install, and the error that names the one that is missing.

The base package serves the registry, jobs, datasets, evaluations of formula models, drift
and the web UI. Heavier parts are extras that a user installs by name::

    pip install 'modelyard[sklearn]'   # scikit-learn versions (skops files)
    pip install 'modelyard[onnx]'      # ONNX versions (onnxruntime)
    pip install 'modelyard[rocksdb]'   # the rocksdb-embedded live target (rocksdict)
    pip install 'modelyard[reports]'   # report charts and PDFs (matplotlib, WeasyPrint)
    pip install 'modelyard[all]'       # everything

Code that imports an extra's library does so inside ``with needs("sklearn"):``; a missing
library becomes :class:`MissingExtra`, which says which extra to install: a job's error, and
through :mod:`modelyard.kit.errors` a 501 problem (``/problems#missing-extra``). This module
imports nothing, so a target's worker process can use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["EXTRAS", "MissingExtra", "needs"]

# extra -> (what it enables, the top-level modules it brings)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sklearn": ("scikit-learn versions (skops files)", ("sklearn", "skops", "scipy", "joblib")),
    "onnx": ("ONNX versions", ("onnxruntime",)),
    "rocksdb": ("the rocksdb-embedded live target", ("rocksdict",)),
    "reports": ("report charts and PDFs", ("matplotlib", "weasyprint")),
}


class MissingExtra(ImportError):
    def __init__(self, extra: str, missing: str) -> None:
        what = EXTRAS[extra][0]
        self.detail = (
            f"{what[0].upper()}{what[1:]} need the '{extra}' extra, which this installation "
            f"lacks ({missing} is not installed): pip install 'modelyard[{extra}]'."
        )
        super().__init__(self.detail, name=missing)
        self.extra = extra


@contextmanager
def needs(extra: str) -> Iterator[None]:
    """Turn the import of a missing library of ``extra`` into :class:`MissingExtra`."""
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRAS[extra][1]:
            raise
        raise MissingExtra(extra, top) from exc

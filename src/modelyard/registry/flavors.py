"""Model flavors known to the registry and the checks a new version must pass.

``formula``: parameters are the model, chosen by ``parameters.kind`` (``linear`` and the
S_max family from :mod:`modelyard.perfmodels`). ``sklearn``: a skops file. ``onnx``: an ONNX
file. ``generic``: any artifact, stored but not loadable for evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.kit.errors import BadRequest

ARTIFACT_FLAVORS = {"sklearn", "onnx"}
KNOWN_FLAVORS = {"formula", "generic", "smax_profile", *ARTIFACT_FLAVORS}


def formula_kinds() -> set[str]:
    kinds = {"linear"}
    import modelyard.perfmodels as perfmodels

    return kinds | set(getattr(perfmodels, "FORMULA_KINDS", {}))


def validate(flavor: str, parameters: dict[str, Any], *, has_artifact: bool) -> None:
    if flavor not in KNOWN_FLAVORS:
        raise BadRequest(
            f"Unknown flavor '{flavor}'; use one of {', '.join(sorted(KNOWN_FLAVORS))}."
        )
    if flavor in ARTIFACT_FLAVORS and not has_artifact:
        raise BadRequest(
            f"A '{flavor}' version needs an artifact file; upload it as multipart field `file`."
        )
    if flavor == "formula":
        kind = parameters.get("kind")
        kinds = formula_kinds()
        if kind not in kinds:
            raise BadRequest(
                f"A formula version needs `parameters.kind`, one of {', '.join(sorted(kinds))}; got {kind!r}."
            )
        if kind == "linear":
            coef = parameters.get("coef", {})
            if not isinstance(coef, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in coef.values()
            ):
                raise BadRequest(
                    "A linear formula needs `parameters.coef`, an object of column -> number."
                )
            intercept = parameters.get("intercept", 0.0)
            if not isinstance(intercept, int | float) or isinstance(intercept, bool):
                raise BadRequest("`parameters.intercept` of a linear formula must be a number.")


def check_artifact(flavor: str, parameters: dict[str, Any], path: Path) -> None:
    """Prove that a runnable flavor's artifact loads: a skops file with trusted types only,
    an ONNX graph onnxruntime accepts. Raises a 400 saying what is wrong."""
    if flavor in ARTIFACT_FLAVORS:
        from modelyard.flavors import check_artifact as load_check

        load_check(flavor, parameters, path)

"""Every service's public functions are typed with the shapes they take and return: no
``Any`` (and so no ``dict[str, Any]``) in a parameter or return annotation.

A service module is a domain's ``service.py`` (or a ``service`` package's modules). A free
JSON document (job parameters, an audit detail) is ``pydantic.JsonValue``, which says what
may be in it; a shape the API sends is its ``...Out`` schema. Read from the source, so a
function's annotations count even where they name types imported only for type checking.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "modelyard"


def _service_modules() -> list[Path]:
    found = set(SOURCE.rglob("service.py")) | set(SOURCE.rglob("service/*.py"))
    return sorted(found)


def _mentions_any(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    return any(
        (isinstance(node, ast.Name) and node.id == "Any")
        or (isinstance(node, ast.Attribute) and node.attr == "Any")
        for node in ast.walk(annotation)
    )


def _untyped(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(SOURCE.parent)
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith("_"):
            continue
        arguments = node.args
        parameters = [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *([arguments.vararg] if arguments.vararg else []),
            *([arguments.kwarg] if arguments.kwarg else []),
        ]
        for parameter in parameters:
            if _mentions_any(parameter.annotation):
                yield f"{where}:{node.lineno} {node.name}({parameter.arg}: ...Any...)"
        if _mentions_any(node.returns):
            yield f"{where}:{node.lineno} {node.name}() -> ...Any..."


def test_the_walk_finds_the_services() -> None:
    names = {path.parent.name for path in _service_modules()}
    assert {"registry", "evaluations", "datasets", "jobs", "auth", "targets"} <= names


def test_the_check_catches_any() -> None:
    source = "def f(a: dict[str, Any]) -> list[typing.Any]: ...\n"
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert _mentions_any(function.args.args[0].annotation)
    assert _mentions_any(function.returns)
    assert not _mentions_any(ast.parse("dict[str, JsonValue]", mode="eval").body)


def test_no_service_signature_mentions_any() -> None:
    untyped = [line for path in _service_modules() for line in _untyped(path)]
    assert not untyped, "Service signatures with Any:\n" + "\n".join(untyped)

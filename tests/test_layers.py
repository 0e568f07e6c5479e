"""The import graph of ``src/modelyard``, read from the source: no cycle between packages, no
module reaching into another package's private ``_x`` modules, and the pure layers pure.

A package is the first name under ``modelyard`` (``registry``, ``jobs``, ``app`` for
``app.py``). Every import counts, at module level or inside a function (an import moved into
a function still ties the two packages together); only imports under ``if TYPE_CHECKING:``
are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "modelyard"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported module (or module.name), dotted

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports_in(path: Path, module: str) -> Iterator[Import]:
    def walk(node: ast.AST) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for branch in child.orelse:
                    yield from walk_one(branch)
                continue
            yield from walk_one(child)

    def walk_one(node: ast.AST) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, path.name == "__init__.py", node)
            for alias in node.names:
                yield Import(module, node.lineno, f"{source}.{alias.name}")
        yield from walk(node)

    yield from walk(ast.parse(path.read_text(), str(path)))


def _package(dotted: str) -> str | None:
    """The package of a module inside modelyard (``None`` outside it, or for the top level)."""
    parts = dotted.split(".")
    if parts[0] != "modelyard" or len(parts) < 2:
        return None
    name = parts[1]
    if (SOURCE / name).is_dir() or (SOURCE / f"{name}.py").is_file():
        return name
    return None  # a name defined in modelyard/__init__.py (``__version__``)


def _all_imports() -> list[Import]:
    return [
        found
        for path in sorted(SOURCE.rglob("*.py"))
        for found in _imports_in(path, _module_name(path))
    ]


def _package_edges() -> dict[tuple[str, str], list[Import]]:
    edges: dict[tuple[str, str], list[Import]] = {}
    for found in _all_imports():
        source, target = _package(found.module), _package(found.target)
        if source and target and source != target:
            edges.setdefault((source, target), []).append(found)
    return edges


def _cycles(edges: dict[tuple[str, str], list[Import]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    edges = _package_edges()
    problems = []
    for component in _cycles(edges):
        members = set(component)
        problems.append(f"cycle between {', '.join(component)}:")
        for (source, target), where in sorted(edges.items()):
            if source in members and target in members:
                problems.extend(f"  {source} -> {target}: {found}" for found in where[:3])
    assert not problems, "\n".join(problems)


def test_the_cycle_check_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    edges = {("registry", "flavors"): [], ("flavors", "registry"): [], ("flavors", "kit"): []}
    assert _cycles(edges) == [["flavors", "registry"]]
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import modelyard.jobs\n"
        "def f():\n    from modelyard.registry import service\n"
    )
    imports = [found.target for found in _imports_in(source, "modelyard.m")]
    assert "modelyard.registry.service" in imports and "modelyard.jobs" not in imports


def test_no_module_imports_another_packages_private_module() -> None:
    problems = []
    for found in _all_imports():
        source, target = _package(found.module), _package(found.target)
        if source is None or target is None or source == target:
            continue
        private = [p for p in found.target.split(".")[2:] if p.startswith("_") and p != "__init__"]
        # ``from modelyard.x import _y`` names a private module or a private name: both are x's
        if private:
            problems.append(str(found))
    assert not problems, "\n".join(problems)


def test_the_pure_layers_import_nothing_of_the_application() -> None:
    """perfmodels is a library of its own; kit and config sit under every domain."""
    allowed = {"perfmodels": set(), "kit": {"config"}, "config": set()}
    problems = []
    for found in _all_imports():
        source, target = _package(found.module), _package(found.target)
        if source in allowed and target not in (None, source, *allowed[source]):
            problems.append(str(found))
    assert not problems, "\n".join(problems)

"""The import rules of the design's "Layers" table, checked on the source with `ast`.

Nothing is imported: every module of models/, agents/, pipelines/ and flows/ is parsed, so
the checks take a fraction of a second and see imports that only run in some code paths (inside
functions, under `if TYPE_CHECKING:`). Modules are found by walking the folders, so the
checks hold for any layout of sub-packages.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "agents", "pipelines", "flows")


@dataclass(frozen=True)
class Edge:
    """One import statement: `importer` imports `imported` at `line`."""

    importer: str
    imported: str
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`: never executed, so no runtime dependency
    lazy: bool  # inside a function: runs later, but is still a dependency

    def __str__(self) -> str:
        notes = [n for n, on in (("TYPE_CHECKING", self.type_checking), ("lazy", self.lazy)) if on]
        suffix = f", {', '.join(notes)}" if notes else ""
        return f"{self.importer} -> {self.imported} (line {self.line}{suffix})"


def _module_name(path: Path) -> str:
    """`pipelines/core/quiet.py` -> `pipelines.core.quiet`; an `__init__.py` names its package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of the layered packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING`."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str) -> str:
    """The longest prefix of `name` that is a repo module; `name` itself if none (third party)."""
    modules = _modules()
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return name


def _from_base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from X import ...` names, resolving relative imports."""
    if node.level == 0:
        return node.module or ""
    is_package = _modules()[module].name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules one import statement depends on.

    `from a.b import c` depends on the submodule `a.b.c` when that is a repo module (as in
    `from pipelines import tracking`), else on `a.b` (c is a name defined there). Importing a
    package depends on its `__init__.py` only, not on its submodules.
    """
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield _resolve(alias.name)
        return
    base = _from_base(module, node)
    for alias in node.names:
        sub = f"{base}.{alias.name}" if base else alias.name
        yield sub if sub in _modules() else _resolve(base)


def _walk(module: str, tree: ast.Module) -> Iterator[Edge]:
    """Every import statement at any depth, with its TYPE_CHECKING and function context.

    Expressions are skipped: an import is a statement, so none can hide in one.
    """
    stack: list[tuple[ast.AST, bool, bool]] = [(node, False, False) for node in tree.body]
    while stack:
        node, guarded, lazy = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in dict.fromkeys(_targets(module, node)):  # one edge per statement
                yield Edge(module, target, node.lineno, guarded, lazy)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack += [(child, True, lazy) for child in node.body]
            stack += [(child, guarded, lazy) for child in node.orelse]
            continue
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        stack += [
            (child, guarded, inner)
            for child in ast.iter_child_nodes(node)
            if not isinstance(child, ast.expr)
        ]


@cache
def _edges() -> tuple[Edge, ...]:
    """All imports of all modules (the parse is shared by every test)."""
    edges: list[Edge] = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges.extend(_walk(module, tree))
    return tuple(sorted(edges, key=lambda e: (e.importer, e.line, e.imported)))


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, prefix: str) -> bool:
    """`name` is `prefix` or below it (`ray.rllib` is within `ray`)."""
    return name == prefix or name.startswith(prefix + ".")


def _report(title: str, edges: list[Edge]) -> str:
    return f"{title} ({len(edges)}):\n" + "\n".join(f"  {edge}" for edge in edges)


# Layer -> what it never imports (DESIGN.md "Layers"). flows/ is the top: nothing below it
# may import it. TYPE_CHECKING imports count: a type annotation still couples the layers.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "models": ("agents", "pipelines", "flows", "ray", "prefect", "mlflow"),
    "agents": ("pipelines", "flows", "prefect"),
    "pipelines": ("flows", "prefect"),
}
# models/ is the bottom and must stay light: only the stdlib, torch and numpy beside itself.
MODELS_ALLOWED = frozenset({"models", "torch", "numpy", "__future__", *sys.stdlib_module_names})


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer: str) -> None:
    """A layer never imports a layer above it, nor the orchestration libraries it must not see."""
    bad = [
        edge
        for edge in _edges()
        if _top(edge.importer) == layer
        and (
            any(_within(edge.imported, banned) for banned in FORBIDDEN[layer])
            or (layer == "models" and _top(edge.imported) not in MODELS_ALLOWED)
        )
    ]
    banned = ", ".join(FORBIDDEN[layer])
    extra = " (and only stdlib, torch, numpy)" if layer == "models" else ""
    assert not bad, _report(f"{layer}/ must not import {banned}{extra}", bad)


def _is_cli(module: str) -> bool:
    """flows.cli and flows.cli_*: the command-line front ends."""
    name = module.split(".")[-1]
    return _top(module) == "flows" and (name == "cli" or name.startswith("cli_"))


def test_cli_is_the_top() -> None:
    """The CLI wires flows together; a flow that imports the CLI turns the layering upside down."""
    bad = [edge for edge in _edges() if _is_cli(edge.imported) and not _is_cli(edge.importer)]
    assert not bad, _report(
        "only CLI modules (flows.cli, flows.cli_*) may import a CLI module", bad
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of `graph`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

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
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles() -> None:
    """Repo modules form a DAG at run time.

    TYPE_CHECKING imports never run, so they are left out; lazy (function-level) imports are
    kept: they hide a cycle from the interpreter at import time, not from the design.
    """
    modules = _modules()
    runtime = [
        edge
        for edge in _edges()
        if not edge.type_checking and edge.imported in modules and edge.imported != edge.importer
    ]
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for edge in runtime:
        graph[edge.importer].add(edge.imported)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    lines: list[str] = []
    for cycle in sorted(cycles):
        members = set(cycle)
        lines.append(f"cycle of {len(cycle)} modules: {', '.join(cycle)}")
        lines += [
            f"    {edge}"
            for edge in runtime
            if edge.importer in members and edge.imported in members
        ]
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(lines)


def test_parser_sees_the_imports() -> None:
    """Guards the other checks against passing vacuously (no modules found, no edges parsed)."""
    modules = _modules()
    for package in PACKAGES:
        assert package in modules, f"{package}/__init__.py not found under {ROOT}"
        inside = [m for m in modules if _top(m) == package]
        assert len(inside) >= 3, f"only {inside} found in {package}/"
    edges = _edges()
    internal = [e for e in edges if e.imported in modules]
    assert len(internal) >= len(modules), f"only {len(internal)} repo-internal imports parsed"
    assert any(e.importer == "flows.cli" and _top(e.imported) == "flows" for e in edges), (
        "flows.cli imports no flows module"
    )
    assert any(_top(e.importer) == "models" and _top(e.imported) == "torch" for e in edges)


def test_parser_finds_hidden_and_relative_imports() -> None:
    """The walker sees imports in functions, classes, try and TYPE_CHECKING, and resolves dots."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from flows import cli\n"
        "from . import no_such_name\n"
        "class A:\n"
        "    def f(self):\n"
        "        try:\n"
        "            import prefect\n"
        "        except ImportError:\n"
        "            pass\n"
    )
    importer = next(m for m, path in _modules().items() if path.name != "__init__.py")
    edges = {(e.imported, e.type_checking, e.lazy) for e in _walk(importer, ast.parse(source))}
    expected = {("typing", False, False), ("flows.cli", True, False)}
    expected |= {("prefect", False, True), (importer.rsplit(".", 1)[0], False, False)}
    assert expected <= edges, f"{expected - edges} missing from {edges}"

"""No import cycles in mimi: no package of mimi depends on one that depends back
on it, and no module on one that imports it back.

The graph is read from the source with `ast` (nothing is imported) and holds
every import: at module level, inside functions and under `TYPE_CHECKING`. An
import inside a function is a dependency that runs later, and one under
`TYPE_CHECKING` a dependency of the annotations; in either case the importing
package cannot be read, tested or moved without the imported one, so a cycle
through it is a cycle all the same.

A package of mimi is a direct child of `mimi` (`mimi.room`, `mimi.policy`,
`mimi.errors`, ...). `from p import name` depends on the module `p.name` when
there is one, else on `p`; importing a submodule is not counted as importing
its parent package's `__init__`, which Python runs first either way.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "python"
ROOT = "mimi"


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    """Module name -> file, the extension's stub (`_core.pyi`) included."""
    files = {module_name(p): p for p in sorted((SOURCE / ROOT).rglob("*.py"))}
    for stub in sorted((SOURCE / ROOT).rglob("*.pyi")):
        files.setdefault(module_name(stub), stub)
    return files


def imports_of(module: str, is_package: bool, tree: ast.AST, known: Mapping[str, object]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import anywhere in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in known else base), node.lineno


Edges = dict[str, dict[str, set[str]]]  # importer -> imported -> {"file:line", ...}


def import_graph() -> tuple[Edges, Edges]:
    """(module graph, package graph) of mimi."""
    files = source_files()
    modules: Edges = {name: {} for name in files}
    packages: Edges = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for target, line in imports_of(name, path.stem == "__init__", tree, files):
            if target != ROOT and not target.startswith(ROOT + "."):
                continue
            where = f"{path.relative_to(REPO)}:{line}"
            if target in files and target != name:
                modules[name].setdefault(target, set()).add(where)
            source, dest = package_of(name), package_of(target)
            packages.setdefault(source, {})
            if source != dest:
                packages[source].setdefault(dest, set()).add(where)
    return modules, packages


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def cycles(edges: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """One cycle (its nodes, the first repeated at the end) per strongly connected
    set of two or more nodes (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_cycle_through(min(component), component, edges))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def _cycle_through(start: str, component: set[str], edges: Mapping[str, Mapping[str, object]]) -> list[str]:
    """The shortest path from `start` back to itself inside `component` (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(edges.get(node, {})):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt in component and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is on no cycle")


def describe(cycle: list[str], edges: Edges) -> str:
    steps = [f"  {a} -> {b}  ({', '.join(sorted(edges[a][b]))})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


MODULES, PACKAGES = import_graph()


def test_no_cycle_between_packages() -> None:
    found = cycles(PACKAGES)
    assert not found, "import cycles between packages of mimi:\n" + "\n".join(describe(c, PACKAGES) for c in found)


def test_no_cycle_between_modules() -> None:
    found = cycles(MODULES)
    assert not found, "import cycles between modules of mimi:\n" + "\n".join(describe(c, MODULES) for c in found)


# -- the graph itself: what the two tests above rely on ----------------------------------------


def test_every_kind_of_import_is_an_edge() -> None:
    source = """
from typing import TYPE_CHECKING
import mimi.errors
from mimi.room import state, RoomState
from . import sibling
from ..errors import DecodeError
if TYPE_CHECKING:
    from mimi.components.roles import RoleData
def later():
    from mimi.transport import ray
"""
    known = {"mimi.room.state", "mimi.pkg.sibling", "mimi.transport.ray"}
    found = {target for target, _ in imports_of("mimi.pkg.module", False, ast.parse(source), known)}
    assert found == {
        "typing",
        "mimi.errors",
        "mimi.room.state",
        "mimi.room",
        "mimi.pkg.sibling",
        "mimi.components.roles",
        "mimi.transport.ray",
    }


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b": 0}, "b": {"c": 0}, "c": {}}, []),
        ({"a": {"b": 0}, "b": {"a": 0}}, [["a", "b", "a"]]),
        ({"a": {"b": 0}, "b": {"c": 0}, "c": {"a": 0, "d": 0}, "d": {"e": 0}, "e": {"d": 0}},
         [["a", "b", "c", "a"], ["d", "e", "d"]]),
    ],
)
def test_cycles_are_found(edges: dict[str, dict[str, int]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_the_graph_sees_mimi() -> None:
    """Known dependencies, one through an import inside a function (cli -> loadtest)."""
    assert "mimi.errors" in PACKAGES["mimi.logic"]
    assert "mimi.loadtest" in PACKAGES["mimi.cli"]
    assert len(MODULES) > 50

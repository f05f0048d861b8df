"""The package's layout: no module imports, directly or round about, a module that imports it.

The graph is read from the source with `ast`, not by importing: an edge A -> B says that
rcsbatch.A imports rcsbatch.B. Imports under `if TYPE_CHECKING:` are no edges: they never run.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rcsbatch"

# The console entry point imports the CLI inside `main`, after its signal handlers are in place,
# so that Ctrl-C during the CLI's heavy imports ends cleanly; the CLI imports it back for them.
ENTRY_POINT = ("rcsbatch.process", "rcsbatch.cli")

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(
    nodes: list[ast.stmt], *, deferred: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The import statements among `nodes` that run, each with whether it runs only when a
    function is called; those inside functions only if `deferred`."""
    for node in nodes:
        yield from _imports(node, deferred=deferred, inside=False)


def _imports(
    node: ast.AST, *, deferred: bool, inside: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, inside
        return
    if isinstance(node, ast.If) and is_type_checking(node.test):
        children: list[ast.AST] = list(node.orelse)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        if not deferred:
            return
        inside = True
        children = list(ast.iter_child_nodes(node))
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _imports(child, deferred=deferred, inside=inside)


def import_graph(root: Path = PACKAGE, *, deferred: bool = False) -> Graph:
    """Each module of the package at `root`, with the package's modules it imports."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: Graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, inside in imports(tree.body, deferred=deferred):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                # `from pkg import sub` imports the submodule; `from mod import name` the module.
                targets = [
                    f"{module}.{a.name}" if f"{module}.{a.name}" in paths else module
                    for a in node.names
                ]
            for target in targets:
                if inside and (name, target) == ENTRY_POINT:
                    continue
                if target in paths and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Cycles that together cover every cyclic part of `graph` (none when it has none), each as
    `[a, b, …, a]` where a imports b."""
    edges = {name: set(targets) for name, targets in graph.items()}
    found: list[list[str]] = []
    while True:
        # graphlib orders dependencies first, so its cycle runs against the import direction.
        try:
            graphlib.TopologicalSorter(edges).prepare()
        except graphlib.CycleError as error:
            cycle = list(reversed(error.args[1]))
            found.append(cycle)
            edges[cycle[0]].discard(cycle[1])
        else:
            return found


def describe(found: list[list[str]]) -> str:
    return "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


def test_no_import_cycle_at_module_level() -> None:
    """No cycle among the imports that run when a module is first imported (imports inside
    functions do not run then, and those under `if TYPE_CHECKING:` never)."""
    found = cycles(import_graph())
    assert not found, describe(found)


def test_no_import_cycle_hidden_in_a_function() -> None:
    """Imports inside functions close no cycle either: an import moved into a function to
    dodge a cycle leaves the two modules tied (the console entry point's late import of the CLI,
    see ENTRY_POINT, is the one exception)."""
    found = cycles(import_graph(deferred=True))
    assert not found, describe(found)


@pytest.mark.parametrize(
    ("sources", "deferred", "expected"),
    [
        ({"a": "from pkg import b\n", "b": "import pkg.a\n"}, False, [["pkg.a", "pkg.b", "pkg.a"]]),
        (
            {"a": "from .b import x\n", "b": "from . import a\nx = 1\n"},
            False,
            [["pkg.a", "pkg.b", "pkg.a"]],
        ),
        ({"a": "import pkg.b\n", "b": "def f():\n    import pkg.a\n"}, False, []),
        (
            {"a": "import pkg.b\n", "b": "def f():\n    import pkg.a\n"},
            True,
            [["pkg.a", "pkg.b", "pkg.a"]],
        ),
        ({"a": "import pkg.b\n", "b": "if TYPE_CHECKING:\n    import pkg.a\n"}, True, []),
        ({"a": "import pkg.b\n", "b": "import pkg.c\n", "c": "import os\n"}, True, []),
    ],
    ids=["absolute", "relative", "in-function-skipped", "in-function", "type-checking", "acyclic"],
)
def test_cycles_are_found_in_a_package(
    tmp_path: Path, sources: dict[str, str], deferred: bool, expected: list[list[str]]
) -> None:
    """The graph reader finds a cycle through absolute, relative and (when asked) in-function
    imports, and none through TYPE_CHECKING imports or in an acyclic package."""
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, text in sources.items():
        (root / f"{name}.py").write_text(text)
    found = cycles(import_graph(root, deferred=deferred))
    assert [sorted(c[:-1]) for c in found] == [sorted(c[:-1]) for c in expected]

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


# ---- who may choose the console's event loop --------------------------------------------------

# The modules that may name engine.console_loop: where it is defined, and the command line, which
# alone may run a command on it (uvloop belongs to the console script, never to a library call).
CONSOLE_LOOP_OWNERS = {"rcsbatch.engine.loop", "rcsbatch.cli"}
# Functions that still name it, each until its command has a library call (none is left). An
# entry whose function no longer names it fails the test, so the list only shrinks.
CONSOLE_LOOP_LEFT: set[tuple[str, str]] = set()


def console_loop_uses(root: Path = PACKAGE) -> set[tuple[str, str]]:
    """(module, enclosing function or "<module>") for each name `console_loop` in the package:
    a call, an import of it, or an attribute read."""
    found: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def visit(node: ast.AST, where: str, name: str = name) -> None:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and where == "<module>":
                where = node.name
            named = (
                (isinstance(node, ast.Name) and node.id == "console_loop")
                or (isinstance(node, ast.Attribute) and node.attr == "console_loop")
                or (
                    isinstance(node, ast.ImportFrom)
                    and any(a.name == "console_loop" for a in node.names)
                )
            )
            if named:
                found.add((name, where))
            for child in ast.iter_child_nodes(node):
                visit(child, where)

        visit(tree, "<module>")
    return found


def test_only_the_command_line_runs_on_the_console_loop() -> None:
    """No module but engine (which defines it) and cli names engine.console_loop: library code
    runs its coroutines through engine.run_sync, or on the loop its caller passes in."""
    uses = console_loop_uses()
    strays = {use for use in uses if use[0] not in CONSOLE_LOOP_OWNERS} - CONSOLE_LOOP_LEFT
    assert not strays, f"console_loop named outside the command line: {sorted(strays)}"
    assert uses >= CONSOLE_LOOP_LEFT, f"no longer naming it: {sorted(CONSOLE_LOOP_LEFT - uses)}"


def test_console_loop_uses_are_found(tmp_path: Path) -> None:
    """The reader finds a call through the module, an import of the name, and a use inside a
    nested function, each under its top-level function."""
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text(
        "from pkg import engine\n"
        "def f():\n    with engine.console_loop() as loop:\n        pass\n"
        "def g():\n    def inner():\n        from pkg.engine import console_loop\n"
    )
    (root / "b.py").write_text("def console():\n    return 1\n")
    assert console_loop_uses(root) == {("pkg.a", "f"), ("pkg.a", "g")}

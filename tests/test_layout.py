"""The package's layout: what the top level holds, no import cycles, no reaching into another
module's private names, and which modules own an event loop.

The graph is read from the source with `ast`, not by importing: an edge A -> B says that
rcsbatch.A imports rcsbatch.B. Imports under `if TYPE_CHECKING:` are no edges: they never run.
"""

from __future__ import annotations

import ast
import graphlib
import re
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

# The modules that may name engine.loop.console_loop: where it is defined, and the command line,
# which alone may run a command on it (uvloop belongs to the console script, never to a library
# call).
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
    """No module but engine.loop (which defines it) and cli names console_loop: library code
    runs its coroutines through engine.loop.run_sync, or on the loop its caller passes in."""
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


# What the top of the package may hold, each with why it is not in a subpackage. The concepts
# live in the subpackages, so a newcomer finds each one's module from the tree.
TOP_LEVEL = {
    "__init__.py": "the public face: lazy exports of the library API",
    "__main__.py": "`python -m rcsbatch`",
    "api": "the library: one function per command (run, validate, sync_campaign, …)",
    "cli.py": "the command line, thin over the library",
    "process.py": "the console process: signals, stdout and stderr, how it ends",
    "progress.py": "the console's progress bar",
    "errors.py": "the one exception tree every part raises from",
    "exitcodes.py": "the one table of exit codes, shared by --help, the docs and the code",
    "py.typed": "PEP 561: the package ships its types",
    "campaign": "the campaign file and the message it describes",
    "recipients": "recipient files, their cells and phone numbers",
    "gateway": "talking to seven's gateway",
    "state": "what rcsbatch keeps on disk between runs",
    "engine": "the event loop, a campaign run, the sender",
    "actions": "one-shot gateway actions outside a run",
    "delivery": "what happens after a message is accepted",
    "reports": "what a campaign did: outcome, result files, report formats",
    "simulator": "the gateway simulator, in process and standalone",
}


def test_top_level_holds_only_the_allowed_modules() -> None:
    """The top of rcsbatch/ holds the public face, the console and the shared errors and exit
    codes; every concept is a subpackage (a stray file, such as a merge's `.orig`, fails)."""
    found = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert found - TOP_LEVEL.keys() == set(), "not in TOP_LEVEL: move it into a subpackage"
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages <= TOP_LEVEL.keys()


def listed_modules(init: Path) -> list[str]:
    """The modules a subpackage's `__init__.py` docstring lists, one line each: "- `name`: …"."""
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    return [line[3:].split("`", 1)[0] for line in doc.splitlines() if line.startswith("- `")]


@pytest.mark.parametrize(
    "package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")), ids=str
)
def test_each_subpackage_lists_its_modules(package: str) -> None:
    """A subpackage's docstring lists each of its modules once, and no module it does not hold,
    so a newcomer finds a concept's module from the tree (a module moved in or out, unlisted or
    listed still, fails)."""
    folder = PACKAGE / package
    listed = listed_modules(folder / "__init__.py")
    modules = sorted(p.stem for p in folder.glob("*.py") if p.name != "__init__.py")
    assert sorted(listed) == modules, f"rcsbatch/{package}/__init__.py lists {listed}"


def test_listed_modules_are_read(tmp_path: Path) -> None:
    """The reader takes each "- `name`:" line of the docstring, and nothing else."""
    init = tmp_path / "__init__.py"
    init.write_text('"""Pkg.\n\n- `a`: the a\n- `b`: the `b`\nSee `c`.\n"""\n\nimport os\n')
    assert listed_modules(init) == ["a", "b"]


def private_uses(root: Path = PACKAGE) -> list[str]:
    """Each place a module of the package at `root` uses another module's private name (`_x`):
    imports it (`from m import _x`) or reads it off the module (`m._x`)."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    found = []
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules: dict[str, str] = {}  # a name in this module -> the package module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in paths:
                        modules[alias.asname] = alias.name
                    elif alias.name.split(".")[0] == root.name:
                        modules[root.name] = root.name
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in paths:
                        modules[alias.asname or alias.name] = full
                    elif node.module in paths and node.module != name and private(alias.name):
                        found.append(f"{name}:{node.lineno} imports {full}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and private(node.attr):
                owner = dotted(node.value, modules)
                if owner in paths and owner != name:
                    found.append(f"{name}:{node.lineno} reads {owner}.{node.attr}")
    return found


def private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def dotted(node: ast.expr, modules: dict[str, str]) -> str | None:
    """The module an expression such as `runner` or `rcsbatch.engine.runner` names, if any."""
    if isinstance(node, ast.Name):
        return modules.get(node.id)
    if isinstance(node, ast.Attribute):
        base = dotted(node.value, modules)
        return f"{base}.{node.attr}" if base else None
    return None


def test_no_module_uses_another_modules_private_names() -> None:
    """No module imports or reads another module's `_private` name: what two modules share is
    public in one of them."""
    found = {use.split(":")[0] + " " + use.split(" ", 1)[1] for use in private_uses()}
    assert found == set(), "\n".join(sorted(found))


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"a": "from pkg.b import _x\n", "b": "_x = 1\n"}, ["pkg.a:1 imports pkg.b._x"]),
        ({"a": "from pkg import b\nb._x\n", "b": "_x = 1\n"}, ["pkg.a:2 reads pkg.b._x"]),
        ({"a": "import pkg.b as c\nc._x\n", "b": "_x = 1\n"}, ["pkg.a:2 reads pkg.b._x"]),
        ({"a": "import pkg.b\npkg.b._x\n", "b": "_x = 1\n"}, ["pkg.a:2 reads pkg.b._x"]),
        ({"a": "from pkg.b import x, __all__\nself._y\n", "b": "x = 1\n"}, []),
        ({"a": "_x = 1\nimport pkg.a\npkg.a._x\n"}, []),
    ],
    ids=["import", "module-attribute", "alias", "dotted", "public-and-own", "itself"],
)
def test_private_uses_are_found(
    tmp_path: Path, sources: dict[str, str], expected: list[str]
) -> None:
    """The reader finds a private name imported or read off another module, however the module
    was imported, and passes public names, dunders and a module's own privates."""
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, text in sources.items():
        (root / f"{name}.py").write_text(text)
    assert private_uses(root) == expected


# Where an event loop may be created: the engine (`engine/loop.py`), and the two servers that
# run on their own (the simulator and the webhook receiver).
LOOP_OWNERS = {"rcsbatch.engine.loop", "rcsbatch.simulator.server", "rcsbatch.delivery.receiver"}
LOOP_MAKERS = {("asyncio", "run"), ("asyncio", "new_event_loop"), ("asyncio", "Runner")}


def loop_makers(root: Path = PACKAGE) -> set[str]:
    """The modules that call asyncio.run, asyncio.new_event_loop or asyncio.Runner."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in LOOP_MAKERS
            ):
                found.add(module_name(path, root))
    return found


def test_only_the_engine_and_the_servers_make_event_loops() -> None:
    """An event loop is made in engine/loop.py (for the library and the CLI alike) and by the
    two standalone servers, nowhere else."""
    found = loop_makers()
    assert found - LOOP_OWNERS == set(), "make the loop in engine.loop"


# The command line and its console entry point speak in flags; the simulator has a command line
# of its own. Everything else is library: its errors name parameters, and the CLI adds its flag
# (cli.OPTION_HINTS, by InputError.option).
FLAG_SPEAKERS = ("rcsbatch.cli", "rcsbatch.process", "rcsbatch.simulator")
FLAG = re.compile(r"--[a-z]")


def error_texts(node: ast.AST) -> Iterator[ast.Constant]:
    """The string literals that go into an error: those of `raise` statements, of exceptions
    built to be raised later (`...Error(...)`), and of `require(...)` calls, whose text the
    error they raise quotes."""
    for found in ast.walk(node):
        if isinstance(found, ast.Raise):
            parts: list[ast.AST | None] = [found.exc, found.cause]
        elif isinstance(found, ast.Call):
            func = found.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if not (name.endswith("Error") or name == "require"):
                continue
            parts = [found]
        else:
            continue
        for part in filter(None, parts):
            yield from (
                c
                for c in ast.walk(part)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )


def flags_in_errors(root: Path = PACKAGE) -> list[str]:
    """`module:line: text` for each error text outside the command line that names a flag."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if any(module == s or module.startswith(s + ".") for s in FLAG_SPEAKERS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for text in error_texts(tree):
            if FLAG.search(text.value):
                found.add(f"{module}:{text.lineno}: {text.value.strip()}")
    return sorted(found)


def test_library_errors_name_no_command_line_flag() -> None:
    """No error the library raises tells its caller to use a flag: it names the parameter (and
    sets InputError.option), and the command line adds the flag."""
    found = flags_in_errors()
    assert not found, "name the parameter, set option=, and add the flag to cli.OPTION_HINTS:\n" + (
        "\n".join(found)
    )


def test_flags_in_errors_are_found(tmp_path: Path) -> None:
    """The reader finds a flag in a raise, an f-string, an exception kept to raise later and a
    require() call, and passes docstrings, other strings and the command line's own."""
    root = tmp_path / "rcsbatch"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text(
        'def f(x):\n    """Use --limit."""\n    css = "--ink: #000"\n'
        '    if x:\n        raise ValueError("give --limit")\n'
        '    if x > 1:\n        raise InputError(f"--rows {x!r} is bad", option="rows")\n'
        '    kept = StorageError("see --report-dir")\n'
        '    file.require(["event"], "events without --event")\n'
        '    raise InputError("a -- b, --5, --Upper")\n'
    )
    (root / "cli.py").write_text('raise SystemExit("use --limit")\n')
    assert [line.split(": ")[0] for line in flags_in_errors(root)] == [
        "rcsbatch.a:5",
        "rcsbatch.a:7",
        "rcsbatch.a:8",
        "rcsbatch.a:9",
    ]

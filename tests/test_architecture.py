"""The layout's rules (docs/architecture.md), checked on the source so a regression fails CI:

* no import cycle among ``migration_app`` modules, imports inside function bodies included;
* no module over 600 lines outside ``migrations/``;
* ``engine/`` and ``reports/`` import nothing from Django or the models, and import without settings;
* selectors never import services or tasks; services never import tasks (they send tasks by name).

The checkers are plain functions over a ``{module: {imported module, ...}}`` mapping, so the tests at the
top prove on small made-up packages that each rule can fail, and the tests at the bottom apply them to
the real code. Only ``ast`` reads the code: nothing is imported, so a cycle cannot hide behind the
order in which modules happen to be loaded.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = "migration_app"
MAX_LINES = 600

Graph = Mapping[str, Collection[str]]


# --- Reading the imports --------------------------------------------------------------------------------


class Import(NamedTuple):
    target: str
    # Under ``if TYPE_CHECKING:``: never executed, so it cannot take part in an import cycle, but it is
    # still a dependency between layers.
    type_only: bool


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root`` by dotted name (a package by its ``__init__``), migrations left out."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        assert name is not None
        return name
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(parts):
        raise ValueError(f"{module}: relative import beyond the top-level package")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement anywhere in the tree (module level, functions, classes, branches)."""

    def visit(node: ast.AST, type_only: bool) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_only
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True)
            for child in node.orelse:
                yield from visit(child, type_only)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_only)

    return visit(tree, False)


def imports_in(source: str, module: str, *, is_package: bool, known: Collection[str]) -> set[Import]:
    """What running ``module`` imports, as absolute module names.

    ``from P import x`` imports the submodule ``P.x`` when there is one, else ``P`` itself. Importing
    ``a.b.c`` also runs the packages ``a.b`` and ``a``, so those count too, except the importer's own
    packages: Python has started running them before the importer, so the implied import is a no-op.
    Taking a *name* from one's own package (``from . import CONSTANT``) does count: that is the
    partially initialised ``__init__`` an import cycle trips over.
    """
    own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    if is_package:
        own_packages.add(module)
    found: set[Import] = set()

    def add(target: str, type_only: bool) -> None:
        found.add(Import(target, type_only))
        parts = target.split(".")
        for i in range(1, len(parts)):
            ancestor = ".".join(parts[:i])
            if ancestor not in own_packages:
                found.add(Import(ancestor, type_only))

    for node, type_only in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, type_only)
            continue
        base = _resolve(module, is_package, node.level, node.module)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            add(submodule if submodule in known else base, type_only)
    return {found_import for found_import in found if found_import.target != module}


def import_graph(root: Path, package: str, *, runtime_only: bool = False) -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module of ``package`` (outside modules included as targets).

    With ``runtime_only``, imports under ``if TYPE_CHECKING:`` are left out (for the cycle check).
    """
    modules = modules_of(root, package)
    graph = {}
    for module, path in modules.items():
        found = imports_in(
            path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py", known=modules.keys()
        )
        graph[module] = {i.target for i in found if not (runtime_only and i.type_only)}
    return graph


# --- The rules, over a graph ----------------------------------------------------------------------------


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def import_cycles(graph: Graph) -> list[list[str]]:
    """Import cycles as paths that return to where they started: for every module that is in one, the
    shortest cycle through it (so a knot of modules shows each of its loops, not only one).

    Only edges between modules of the graph count (``django``, ``numpy``, ... are leaves).
    """
    # Tarjan's algorithm, iterative so that a deep import chain cannot hit the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []

    def successors(node: str) -> list[str]:
        return sorted(t for t in graph.get(node, ()) if t in graph and t != node)

    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(successors(start)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(successors(child))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    cycles: list[list[str]] = []
    for group in sorted(groups):
        members = set(group)
        for start in group:
            # The shortest way back to ``start`` inside the group, by breadth-first search.
            came_from: dict[str, str] = {}
            frontier = [start]
            while start not in came_from:
                next_frontier = []
                for node in frontier:
                    for child in successors(node):
                        if child in members and child not in came_from:
                            came_from[child] = node
                            next_frontier.append(child)
                frontier = next_frontier
            path = [start]
            node = came_from[start]
            while node != start:
                path.append(node)
                node = came_from[node]
            path.reverse()
            # Named from its alphabetically first module, so one cycle found from each of its modules is listed once.
            first = path.index(min(path))
            cycle = [*path[first:], *path[:first], path[first]]
            if cycle not in cycles:
                cycles.append(cycle)
    return cycles


# (importer, imported): no module within the first may import a module within the second.
LAYER_RULES: tuple[tuple[str, str], ...] = (
    (f"{APP}.selectors", f"{APP}.services"),
    (f"{APP}.selectors", f"{APP}.tasks"),
    # Services queue tasks by name (``send_task``), so the task module stays a thin caller of services.
    (f"{APP}.services", f"{APP}.tasks"),
)


def layer_violations(graph: Graph, rules: Iterable[tuple[str, str]] = LAYER_RULES) -> list[tuple[str, str]]:
    """Every (importer, imported) edge that a rule forbids."""
    return sorted(
        {
            (module, target)
            for importer, forbidden in rules
            for module, targets in graph.items()
            if _within(module, importer)
            for target in targets
            if _within(target, forbidden)
        }
    )


PURE_LAYERS = (f"{APP}.engine", f"{APP}.reports")
# The app modules the pure layers may use: each other, and the vocabularies (TextChoices need no settings).
PURE_ALLOWED = (*PURE_LAYERS, f"{APP}.choices")
DJANGO_ROOTS = ("django", "rest_framework", "django_filters")


def impure_imports(graph: Graph, layers: Iterable[str] = PURE_LAYERS) -> list[tuple[str, str]]:
    """Every import by a module of the pure layers of Django, a Django add-on, or an app module other
    than the vocabularies (models, services, selectors, ... all need Django configured)."""
    layers = tuple(layers)
    bad = set()
    for module, targets in graph.items():
        if not any(_within(module, layer) for layer in layers):
            continue
        for target in targets:
            root = target.split(".")[0]
            if (
                root in DJANGO_ROOTS
                or root.startswith("django_")
                or (root == APP and target != APP and not any(_within(target, allowed) for allowed in PURE_ALLOWED))
            ):
                bad.add((module, target))
    return sorted(bad)


def long_modules(paths: Iterable[Path], limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """(path, lines) of every file longer than ``limit`` lines."""
    lengths = ((path, len(path.read_text(encoding="utf-8").splitlines())) for path in paths)
    return sorted(
        (str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), n) for path, n in lengths if n > limit
    )


def _edges_message(edges: list[tuple[str, str]]) -> str:
    """One line per import written in the code (``django.utils`` is implied by ``django.utils.translation``)."""
    shown = [
        (module, target)
        for module, target in edges
        if not any(m == module and t.startswith(target + ".") for m, t in edges)
    ]
    return "\n".join(f"{module} imports {target}" for module, target in shown)


def _cycles_message(cycles: list[list[str]]) -> str:
    return "import cycles:\n" + "\n".join("  " + " → ".join(cycle) for cycle in cycles)


# --- Each rule can fail: small made-up packages ---------------------------------------------------------


def _package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return tmp_path


def test_a_direct_cycle_is_found_as_a_path():
    graph = {"p.a": {"p.b", "django.db"}, "p.b": {"p.a"}, "p.c": {"p.a"}}
    assert import_cycles(graph) == [["p.a", "p.b", "p.a"]]


def test_an_acyclic_graph_has_no_cycle():
    assert import_cycles({"p.a": {"p.b", "p.c"}, "p.b": {"p.c"}, "p.c": {"numpy"}}) == []


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "from .c import helper\n",
            "pkg/c.py": """
                def helper():
                    from pkg.a import thing  # late, to dodge the cycle at import time; still a cycle
                    return thing
            """,
        },
    )
    assert import_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_a_cycle_through_a_packages_init_is_found(tmp_path):
    # ``other`` imports a submodule of ``sub``, which runs ``sub/__init__``, which imports ``other``.
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/other.py": "import pkg.sub.leaf\n",
            "pkg/sub/__init__.py": "from ..other import VALUE\n",
            "pkg/sub/leaf.py": "",
        },
    )
    graph = import_graph(root, "pkg")
    assert graph["pkg.other"] == {"pkg.sub", "pkg.sub.leaf"}
    assert import_cycles(graph) == [["pkg.other", "pkg.sub", "pkg.other"]]


def test_siblings_do_not_cycle_through_their_own_package_unless_they_take_names_from_it(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from .first import run\n",
        "pkg/sub/first.py": "from .second import step\nfrom pkg.sub import third\n",
        "pkg/sub/second.py": "",
        "pkg/sub/third.py": "",
    }
    graph = import_graph(_package(tmp_path / "ok", files), "pkg")
    assert graph["pkg.sub.first"] == {"pkg.sub.second", "pkg.sub.third"}
    assert import_cycles(graph) == []

    files["pkg/sub/second.py"] = "def later():\n    from . import run\n"  # a name from the half-run __init__
    graph = import_graph(_package(tmp_path / "bad", files), "pkg")
    assert import_cycles(graph) == [["pkg.sub", "pkg.sub.first", "pkg.sub.second", "pkg.sub"]]


def test_type_only_imports_are_no_cycle_but_still_a_dependency(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/selectors.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .services import X\n",
            "pkg/services.py": "from . import selectors\n",
        },
    )
    assert import_cycles(import_graph(root, "pkg", runtime_only=True)) == []
    assert import_cycles(import_graph(root, "pkg")) == [["pkg.selectors", "pkg.services", "pkg.selectors"]]
    assert layer_violations(import_graph(root, "pkg"), [("pkg.selectors", "pkg.services")]) == [
        ("pkg.selectors", "pkg.services")
    ]


def test_relative_imports_resolve_against_the_package():
    known = {"app", "app.choices", "app.engine", "app.engine.graph", "app.engine.lifecycle"}
    source = "from ..choices import S\nfrom . import graph\nfrom .lifecycle import DONE\nfrom .. import engine\n"
    found = imports_in(source, "app.engine.progress", is_package=False, known=known)
    assert {i.target for i in found} == {"app.choices", "app.engine.graph", "app.engine.lifecycle", "app.engine"}
    found = imports_in("from . import graph\n", "app.engine", is_package=True, known=known)
    assert {i.target for i in found} == {"app.engine.graph"}
    with pytest.raises(ValueError, match="beyond"):
        imports_in("from ... import x\n", "app.engine", is_package=True, known=known)


def test_a_selector_importing_services_or_tasks_and_services_importing_tasks_are_refused():
    graph = {
        f"{APP}.selectors.pages": {f"{APP}.services.catalog", f"{APP}.services", f"{APP}.models"},
        f"{APP}.selectors": {f"{APP}.tasks"},
        f"{APP}.services.recompute": {f"{APP}.tasks", f"{APP}.selectors.pages", f"{APP}.engine.graph"},
        # Allowed: callers of both layers, and tasks calling services.
        f"{APP}.views": {f"{APP}.services", f"{APP}.selectors"},
        f"{APP}.api.views": {f"{APP}.services.catalog", f"{APP}.selectors.api"},
        f"{APP}.admin": {f"{APP}.services"},
        f"{APP}.management.commands.recompute": {f"{APP}.services.recompute"},
        f"{APP}.tasks": {f"{APP}.services.recompute"},
        f"{APP}.selectors_old": {f"{APP}.services"},  # a prefix of the name is not the package
    }
    assert layer_violations(graph) == [
        (f"{APP}.selectors", f"{APP}.tasks"),
        (f"{APP}.selectors.pages", f"{APP}.services"),
        (f"{APP}.selectors.pages", f"{APP}.services.catalog"),
        (f"{APP}.services.recompute", f"{APP}.tasks"),
    ]


def test_django_or_the_models_in_the_engine_or_reports_are_refused():
    graph = {
        f"{APP}.engine.graph": {"numpy", "dataclasses", f"{APP}.engine.lifecycle", f"{APP}.choices", f"{APP}"},
        f"{APP}.engine.codec": {"django.utils.timezone", "django"},
        f"{APP}.reports.build": {f"{APP}.models", f"{APP}.reports.data"},
        f"{APP}.reports.data": {f"{APP}.services.recompute", "rest_framework.fields", "django_filters"},
        f"{APP}.selectors.pages": {"django.db", f"{APP}.models"},  # not a pure layer
    }
    assert impure_imports(graph) == [
        (f"{APP}.engine.codec", "django"),
        (f"{APP}.engine.codec", "django.utils.timezone"),
        (f"{APP}.reports.build", f"{APP}.models"),
        (f"{APP}.reports.data", "django_filters"),
        (f"{APP}.reports.data", f"{APP}.services.recompute"),
        (f"{APP}.reports.data", "rest_framework.fields"),
    ]


def test_a_module_over_the_limit_is_named(tmp_path):
    short, long = tmp_path / "short.py", tmp_path / "long.py"
    short.write_text("x = 1\n" * MAX_LINES, encoding="utf-8")
    long.write_text("x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    assert long_modules([short, long]) == [(str(long), MAX_LINES + 1)]


# --- The rules, on the real code ------------------------------------------------------------------------


def _read_app(*, runtime_only: bool) -> dict[str, set[str]]:
    graph = import_graph(ROOT, APP, runtime_only=runtime_only)
    # Guard the reader: an empty or half-read graph would pass every rule.
    assert len(graph) > 50, sorted(graph)
    assert f"{APP}.choices" in graph[f"{APP}.engine.lifecycle"]
    assert f"{APP}.models" in graph[f"{APP}.admin"]
    return graph


@pytest.fixture(scope="module")
def app_graph() -> dict[str, set[str]]:
    return _read_app(runtime_only=False)


def test_no_import_cycle_among_the_apps_modules_counting_imports_inside_functions():
    cycles = import_cycles(_read_app(runtime_only=True))
    assert not cycles, _cycles_message(cycles)


def test_no_module_outside_migrations_is_over_600_lines():
    paths = [*modules_of(ROOT, APP).values(), *modules_of(ROOT, "tracker").values()]
    too_long = long_modules(paths)
    assert not too_long, "split by meaning: " + ", ".join(f"{path} ({n} lines)" for path, n in too_long)


def test_selectors_never_import_services_or_tasks_and_services_never_import_tasks(app_graph):
    violations = layer_violations(app_graph)
    assert not violations, _edges_message(violations)


def test_engine_and_reports_import_neither_django_nor_the_models(app_graph):
    impure = impure_imports(app_graph)
    assert not impure, _edges_message(impure)


def test_engine_and_reports_import_without_django_configured():
    names = sorted(m for m in modules_of(ROOT, APP) if any(_within(m, layer) for layer in PURE_LAYERS))
    assert names
    script = textwrap.dedent(
        """
        import importlib, json, sys
        failed = {}
        for name in sys.argv[1:]:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
        conf = sys.modules.get("django.conf")
        print(json.dumps({
            "failed": failed,
            "models_loaded": "migration_app.models" in sys.modules,
            "settings_configured": bool(conf and conf.settings.configured),
        }))
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script, *names], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert not outcome["failed"], "\n".join(f"{name}: {error}" for name, error in outcome["failed"].items())
    assert not outcome["models_loaded"], "importing the engine and reports loaded migration_app.models"
    assert not outcome["settings_configured"], "importing the engine and reports configured Django's settings"

"""The import graph of ``sim/`` has no cycle.

Every module under ``sim/`` is parsed with :mod:`ast` (nothing is imported),
and every import of another module of the package is an edge: absolute
(``import sim.x``, ``from sim.x import y``) and relative (``from . import x``,
``from .x import y``, ``from .. import x``), at module level or inside a
function, class or ``try``.  Only imports under ``if TYPE_CHECKING:`` are left
out: they never run.

An import of a submodule also runs the ``__init__`` of each package on its path,
so ``from .plots.style import save`` is an edge to ``sim.plots`` and to
``sim.plots.style`` - except for packages that contain the importing module,
which Python has already started importing before it (``from ..policies.base
import Policy`` inside ``sim/policies/`` is not an edge back to
``sim/policies/__init__.py``).  Taking a name that is not a submodule out of a
package (``from . import __version__``) is an edge to that package's
``__init__``, even from inside it: the name must already be defined there.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sim"


def _modules(root: Path = ROOT / PACKAGE) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package (a package is its ``__init__``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree`` that can run (not under ``if TYPE_CHECKING:``)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _run_by(target: str, modules: dict[str, Path], inside: set[str], explicit: bool = False) -> set[str]:
    """The modules that importing ``target`` runs: it and each package on its path, but not those in ``inside``
    (already being imported), unless ``explicit`` (a name is taken from ``target`` itself)."""
    return {
        mod
        for mod in [*_ancestors(target), target]
        if mod in modules and (mod not in inside or (explicit and mod == target))
    }


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over the modules of the package."""
    modules = _modules() if modules is None else modules
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]  # the package relative imports start from
        inside = set(_ancestors(name)) | ({name} if is_package else set())  # already being imported
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        edges |= _run_by(alias.name, modules, inside)
                continue
            if node.level:
                base = here.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:
                    edges |= _run_by(sub, modules, inside)  # a submodule
                else:
                    edges |= _run_by(source, modules, inside, explicit=True)  # a name defined in ``source``
        edges.discard(name)
        graph[name] = edges
    return graph


def tangles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan): the modules on some cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per tangle, as a closed path ``[a, b, ..., a]``."""
    return [_cycle_in(graph, set(c)) for c in tangles(graph)]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth-first), closed: ``[a, b, a]``."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component has one


def test_the_import_graph_of_sim_is_acyclic():
    graph = import_graph()
    found = [(_cycle_in(graph, set(t)), t) for t in tangles(graph)]
    assert not found, "import cycles in sim/ (a -> b: a imports b):\n" + "\n".join(
        f"  {' -> '.join(cycle)}" + (f"\n    (all on cycles with each other: {', '.join(t)})" if len(t) > 2 else "")
        for cycle, t in found
    )


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The parser itself: relative, absolute, in-function, package ``__init__`` edges; TYPE_CHECKING skipped."""
    pkg = tmp_path / PACKAGE
    files = {
        "__init__.py": "from ._version import __version__\nfrom .a import f\n",
        "_version.py": "__version__ = '1'\n",
        "a.py": "def f():\n    from .sub.b import g\n    return g\n",
        "sub/__init__.py": "",
        "sub/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\nimport sim.c\n",
        "sub/d.py": "from .. import __version__\nfrom . import b\nfrom ..sub import b as b2\n",
        "c.py": "from . import a\n",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    graph = import_graph(_modules(pkg))
    assert graph == {
        "sim": {"sim._version", "sim.a"},
        "sim._version": set(),
        "sim.a": {"sim.sub", "sim.sub.b"},
        "sim.sub": set(),
        "sim.sub.b": {"sim.c"},
        "sim.sub.d": {"sim", "sim.sub.b"},
        "sim.c": {"sim.a"},
    }
    assert find_cycles(graph) == [["sim.a", "sim.sub.b", "sim.c", "sim.a"]]

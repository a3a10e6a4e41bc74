"""The import graph: no cycles between our modules, and the layering of docs/architecture.md.

The graph is read from the source (``ast``), not by importing: an edge is an import that runs
when the module is loaded — at module level, including under ``try``/``if`` and in class
bodies, but not under ``if TYPE_CHECKING:`` and not inside a function's body. ``from pkg import
name`` counts as an edge to ``pkg.name`` when that is a module of ours, else to ``pkg``; importing
a submodule also runs its package's ``__init__``, which is an edge to the package.
"""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "drivers", "buffer", "uplink", "county", "provisioning", "devtools")
OURS = (*PACKAGES, "hutgw_errors")

# What each package may import of ours at run time (docs/architecture.md, "Who owns what").
# ``county`` may also use gateway.metrics (the Prometheus registry), as the table says.
ALLOWED: dict[str, frozenset[str]] = {
    "drivers": frozenset({"drivers", "hutgw_errors"}),
    "buffer": frozenset({"buffer", "hutgw_errors"}),
    "uplink": frozenset({"uplink", "buffer", "hutgw_errors"}),
    "county": frozenset({"county", "uplink", "buffer", "hutgw_errors"}),
    "gateway": frozenset({"gateway", "drivers", "buffer", "uplink", "hutgw_errors"}),
}
ALLOWED_MODULES: dict[str, frozenset[str]] = {
    "county": frozenset({"gateway", "gateway.metrics"}),
    # the kind catalogue (drivers/kinds.py): the contract's kind enum and the FHIR codes
    "uplink": frozenset({"drivers", "drivers.kinds"}),
}


@cache
def modules() -> dict[str, Path]:
    """Every module of our packages, by dotted name, with its source file."""
    found: dict[str, Path] = {"hutgw_errors": ROOT / "hutgw_errors.py"}
    for pkg in PACKAGES:
        init = ROOT / pkg / "__init__.py"
        found[pkg] = init
        for info in pkgutil.walk_packages([str(ROOT / pkg)], prefix=f"{pkg}."):
            rel = Path(*info.name.split(".")[1:])
            path = ROOT / pkg / rel / "__init__.py" if info.ispkg else ROOT / pkg / rel.with_suffix(".py")
            found[info.name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(
    body: list[ast.stmt], *, in_functions: bool = False
) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module loads (not under ``if TYPE_CHECKING:``, and,
    unless ``in_functions``, not in a function's body)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _runtime_imports(node.orelse, in_functions=in_functions)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not in_functions:
            continue
        else:  # if/try/with/for bodies, class bodies (they run at import time), functions
            for name in ("body", "orelse", "finalbody"):
                yield from _runtime_imports(getattr(node, name, []), in_functions=in_functions)
            for handler in getattr(node, "handlers", []):
                yield from _runtime_imports(handler.body, in_functions=in_functions)


def _parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


@cache
def graph(in_functions: bool = False) -> dict[str, frozenset[str]]:
    """Module -> the modules of ours it imports at load time (or at all, with ``in_functions``)."""
    mods = modules()
    edges: dict[str, frozenset[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        out: set[str] = set()
        for node in _runtime_imports(tree.body, in_functions=in_functions):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")
                    if node.level > 1:
                        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts)
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in mods else base)
            for target in targets:
                if target.split(".")[0] not in OURS:
                    continue
                while target not in mods and "." in target:
                    target = target.rpartition(".")[0]
                if target not in mods:
                    continue
                out.add(target)
                out.update(p for p in _parents(target) if p in mods)
        out.discard(name)
        # A package's __init__ importing its own submodules is the package loading them, and a
        # submodule "importing" its enclosing package only means that __init__ ran first.
        out.difference_update(p for p in _parents(name) if p in mods)
        edges[name] = frozenset(out)
    return edges


def find_cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:
        nonlocal counter
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp: list[str] = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        sccs.append(comp)

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return [_one_cycle(sorted(comp), edges) for comp in sccs]


def _one_cycle(comp: list[str], edges: dict[str, frozenset[str]]) -> list[str]:
    """A concrete cycle through the component's first module (breadth-first, shortest)."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(edges[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if nxt not in prev:
                    prev[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return comp  # pragma: no cover - a component always has a cycle


def test_the_walk_finds_every_package_and_reads_imports() -> None:
    mods = modules()
    for pkg in PACKAGES:
        assert pkg in mods
    assert "uplink.client" in mods and "gateway.api.app" in mods and "drivers.profiles" in mods
    assert "buffer.outbox" in graph()["gateway.daemon"]
    assert "gateway.api" not in graph()["gateway.api.app"]  # a module's own package is not an edge
    # The walker itself: a cycle is found and named, TYPE_CHECKING imports are not edges.
    assert find_cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})}) == [
        ["a", "b", "c", "a"]
    ]
    src = "if TYPE_CHECKING:\n    import x\nimport y\ntry:\n    import z\nexcept ImportError:\n    pass\n"
    src += "def f() -> None:\n    import w\n"
    tree = ast.parse(src)

    def names(in_functions: bool) -> list[str]:
        found = _runtime_imports(tree.body, in_functions=in_functions)
        return [a.name for n in found for a in n.names]

    assert names(False) == ["y", "z"]
    assert names(True) == ["y", "z", "w"]


def test_no_import_cycles() -> None:
    cycles = find_cycles(graph())
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_cycle_is_hidden_by_an_import_inside_a_function() -> None:
    """An import inside a function may keep start-up light (the CLI does that); it must not be
    what breaks a cycle: the shared piece belongs in a module both sides import."""
    cycles = find_cycles(graph(in_functions=True))
    assert not cycles, "import cycles through imports inside functions:\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )


def test_layering() -> None:
    wrong: list[str] = []
    for name, targets in sorted(graph().items()):
        top = name.split(".")[0]
        allowed = ALLOWED.get(top)
        if allowed is None:  # provisioning/ and devtools/ may import everything
            continue
        for target in sorted(targets):
            if target.split(".")[0] in allowed or target in ALLOWED_MODULES.get(top, frozenset()):
                continue
            wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against the layering (docs/architecture.md):\n" + "\n".join(wrong)

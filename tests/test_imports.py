"""The package's layers, and a test that imports only go down them.

Lowest first (a module may import from its own layer and those below, never from above):

0. ``errors``, ``rng``, ``caches``: leaves every layer uses
1. ``ops``: the op table
2. ``syntax``: the AST
3. ``parse``, ``printer``, ``check``, ``resources``: text ↔ AST, checking, and sizes against
   the machine's memory
4. ``passes``: dead-code elimination, renumbering
5. ``tasks``, ``evaluate``, ``fec``: task sets; the backend contract (fitness, the protocol's
   outputs, the optional search-acceleration ability); and functional equivalence checking's
   semantics (the fingerprint, the cache with forgetting). FEC sits here, under the backends
   rather than just above them, because a backend implements it natively (the fingerprint
   hash in its kernels, the cache in native memory) and must match this one definition.
6. ``backends``: the NumPy reference and LLVM; the registry in ``backends/__init__``
7. ``search``: mutation, regularized evolution, the evaluator, islands, experiments
8. ``export``, ``sklearn``, ``report``: what uses programs and run folders from outside
9. ``api``: the library entry point
10. ``cli``, ``__main__``, and the package ``__init__`` (a facade over the layers below)

Importing ``amzc.x`` runs the package ``__init__`` first; that implicit import is not counted
(``from amzc import rng`` counts as an import of ``amzc.rng``).

Every import counts: at module level, inside functions (lazy) and under TYPE_CHECKING. Within
a layer imports may go either way, but no chain of imports may lead back to where it started
(:func:`test_no_import_cycles`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "amzc"

LAYERS: list[tuple[str, ...]] = [
    ("errors", "rng", "caches"),
    ("ops",),
    ("syntax",),
    ("parse", "printer", "check", "resources"),
    ("passes",),
    ("tasks", "evaluate", "fec"),
    ("backends",),
    ("search",),
    ("export", "sklearn", "report"),
    ("api",),
    ("cli", "__main__", "__init__"),
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}

# Imports that break the order today and are being removed; each names its reason.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("amzc.evaluate", "amzc.backends"):
        "amzc.evaluate.get_backend/BACKENDS/evaluate moved to amzc.backends; the old names "
        "resolve lazily for one release",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path) -> set[str]:
    """The amzc modules ``name`` imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from amzc.tasks import regression`` imports the submodule amzc.tasks.regression
            submodules = {f"{target}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    key = "__init__" if module == "amzc" else parts[1]
    if key not in LAYER:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in {__file__}")
    return LAYER[key]


def violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                  for a, targets in graph.items() for b in targets
                  if layer(b) > layer(a) and (a, b) not in EXCEPTIONS)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module
    (Tarjan's algorithm), so a report names the modules involved."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if (v, w) in EXCEPTIONS:
                continue
            if w not in index:
                visit(w)
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
            visit(v)
    return components


def test_every_module_has_a_layer():
    for name in MODULES:
        layer(name)


def test_imports_go_down_the_layers():
    assert violations(GRAPH) == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_exceptions_are_still_needed():
    """A listed exception that no import uses any more is removed from the list."""
    for a, b in EXCEPTIONS:
        assert b in GRAPH.get(a, set()), f"{a} no longer imports {b}: drop the exception"


@pytest.mark.parametrize("source", [
    "from amzc.search.evaluation import SearchEvaluator\n",  # module level
    "def f():\n    from amzc.cli import app\n",  # lazy, inside a function
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
    "    from amzc.search.experiment import Run\n",
    "from . import cli\n",  # relative
])
def test_an_upward_import_fails(tmp_path, source):
    """The checks can fail: the evaluator (layer 5) importing from above is reported, and so is
    the cycle it closes."""
    fake = PACKAGE / "evaluate.py"
    copy = tmp_path / "evaluate.py"
    copy.write_text(fake.read_text() + "\n" + source)
    graph = dict(GRAPH, **{"amzc.evaluate": imports("amzc.evaluate", copy)})
    assert any(v.startswith("amzc.evaluate (layer 5) imports") for v in violations(graph))
    assert any("amzc.evaluate" in c for c in cycles(graph))

"""The shape of the tree: one-way imports, no circles, no file too long to read.

The import graph is read from the source (every ``import``/``from ... import``, at the top
of a file or inside a function), file to file. ``linker`` never imports ``emulator``; the
emulator's files import each other without a circle; the linker-only commands of the
command line import nothing from the emulator.
"""

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("linker", "emulator")
MAX_LINES = 1500


def source_files():
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current, is_package, node):
    """The absolute module names an import statement names (submodules included)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = current.split(".") if is_package else current.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    # "from pkg import name": name may be a submodule
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


@functools.cache
def import_graph():
    modules = {module_name(p): p for p in source_files()}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, path.name == "__init__.py", node):
                    # importing a.b.c runs a/__init__ and a/b/__init__ too, but those are
                    # the package's own business: count the module named
                    if target in modules and target != name:
                        targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _without_package_inits(graph):
    """A package's __init__ re-exporting its submodules is not a circle with them."""
    packages = {name for name in graph if (ROOT / name.replace(".", "/") / "__init__.py").exists()}
    return {name: {t for t in targets if not (name in packages and t.startswith(name + "."))}
            for name, targets in graph.items()}


def test_no_import_circles():
    assert cycles(_without_package_inits(import_graph())) == []


def test_linker_never_imports_emulator():
    graph = import_graph()
    bad = sorted((name, t) for name, targets in graph.items() if name.startswith("linker")
                 for t in targets if t.startswith("emulator"))
    assert bad == []


def _reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        todo.extend(graph.get(v, ()))
    return seen


@pytest.mark.parametrize("command", ["readelf", "modinfo", "link", "relocs", "profile", "depmod"])
def test_linker_only_commands_import_only_the_linker(command):
    graph = import_graph()
    name = f"emulator.cli.{command}"
    if name not in graph:
        pytest.skip(f"no {name}")
    reached = _reachable(graph, name)
    emulator = sorted(m for m in reached if m.startswith("emulator") and not m.startswith("emulator.cli"))
    assert emulator == []


def test_no_file_over_the_limit():
    long = {str(p.relative_to(ROOT)): n for p in source_files()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []

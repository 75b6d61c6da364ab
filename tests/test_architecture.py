"""The house has rooms, and the import graph between pyfrag's modules has no cycle.

The rooms: the simulator's core (pyfrag.trace, memory, allocators, heap, replay, metrics,
strategies, scenarios, grows, report, audit) at the bottom, pure Python, what Pyodide runs; above
it pyfrag.sources (where a trace comes from), pyfrag.real (wasmtime), pyfrag.record,
pyfrag.explain, then pyfrag.sweep (Dask), and pyfrag.cli on top, imported by nothing.

Every import counts, at the top of a module or inside a function (a lazy import that hides a cycle
is still one): an edge from a module to every pyfrag module it imports, and a package's __init__
to what it imports. `from . import sibling` is an edge to the sibling; `from . import Name` an edge
to the package's __init__, which defines Name. The one documented upward edge, `Trace.replay` (the README's `trace.replay(...)`
calls pyfrag.replay from the trace's model), is allowed.
"""

import ast
import os
import re

import pyfrag

ROOT = os.path.dirname(pyfrag.__file__)
ALLOWED = {("pyfrag.trace.model", "pyfrag.replay")}


def modules():
    """{module name: path} for every module of the package."""
    out = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(ROOT))
                name = rel[:-3].replace(os.sep, ".")
                out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = \
                    os.path.join(folder, f)
    return out


def imports(name, path, known):
    """The pyfrag modules `name` imports, anywhere in its file."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from . import sibling` needs the sibling; `from . import Name` the module
            # (or package __init__) that defines Name
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            # the deepest known module the name points at (a function imported from a module
            # points at the module)
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph():
    known = modules()
    return {name: imports(name, path, known) - {None} for name, path in known.items()}


def cycles(edges):
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if (v, w) in ALLOWED:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle():
    assert cycles(graph()) == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"pyfrag.trace.model": {"pyfrag.replay"},
                   "pyfrag.replay": {"pyfrag.trace.model"}}) == []


ROOMS = ("pyfrag.sources", "pyfrag.real", "pyfrag.record", "pyfrag.explain", "pyfrag.sweep",
         "pyfrag.cli")


def test_the_core_imports_no_room_above_it():
    for name, targets in graph().items():
        if not name.startswith(ROOMS) and name not in ("pyfrag", "pyfrag.__main__"):
            assert not [t for t in targets if t.startswith(ROOMS)], name


def test_each_room_imports_only_the_rooms_below_it():
    """The rooms in ROOMS' order: a room may import the core and the rooms before it, never one after."""
    def room(name):
        return next((i for i, r in enumerate(ROOMS) if name == r or name.startswith(r + ".")), -1)
    for name, targets in graph().items():
        if room(name) >= 0:
            assert not [t for t in targets if room(t) > room(name)], name


def external(path):
    """The top-level names of what a file imports from outside pyfrag."""
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            out.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.add(node.module.partition(".")[0])
    return out


def test_only_the_real_room_touches_wasmtime_and_only_the_sweep_room_touches_dask():
    for name, path in modules().items():
        used = external(path)
        if "wasmtime" in used:
            assert name.startswith(("pyfrag.real", "pyfrag.record")), name
        if used & {"dask", "distributed", "pyarrow"}:
            assert name.startswith("pyfrag.sweep"), name


def test_every_package_is_installed():
    """pyproject lists packages by hand: one left out would be missing from an install."""
    text = open(os.path.join(os.path.dirname(ROOT), "pyproject.toml"), encoding="utf-8").read()
    listed = set(re.findall(r'"(pyfrag[\w.]*)"', text.split("packages = [", 1)[1].split("]")[0]))
    packages = {name for name, path in modules().items() if path.endswith("__init__.py")}
    assert packages <= listed, packages - listed


def test_nothing_imports_the_command_line():
    for name, targets in graph().items():
        if not name.startswith(("pyfrag.cli", "pyfrag.__main__")):
            assert not [t for t in targets if t.startswith("pyfrag.cli")], name

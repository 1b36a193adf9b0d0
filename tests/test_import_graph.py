"""No module imports another that imports it back (issue: "no import circles").

Read from the source, not by importing: every ``import`` anywhere in a module
counts, including those inside functions and under ``TYPE_CHECKING``, since a
circle hidden in a function is still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [
    "shared/src",
    "devstack/src",
    "sandbox/src",
    "services/oauth/src",
    "services/poller/src",
    "services/orders/src",
    "services/tenant-sync/src",
    *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("connectors/*/src")),
    *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("connectors/*/double/src")),
]


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for root in SOURCE_ROOTS:
        for path in (ROOT / root).rglob("*.py"):
            parts = list(path.relative_to(ROOT / root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield f"{base}.{alias.name}"
                elif base in known:
                    yield base


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: set(_imported(module, path, known)) for module, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_checker_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert "keybuzz_shared.logs" in graph  # the sources were found
    assert circles(graph) == []


def test_test_modules_have_one_base_name_each() -> None:
    """pytest imports test files and their helpers (prepend mode: no packages) by base name:
    two ``test_store_contract.py`` in two services make one of them fail to collect."""
    dirs = [
        ROOT / "tests",
        ROOT / "sandbox" / "tests",
        *ROOT.glob("connectors/*/tests"),
        *ROOT.glob("services/*/tests"),
    ]
    names = [
        path.name
        for directory in dirs
        for path in directory.rglob("*.py")
        if path.name not in ("conftest.py", "__init__.py")
    ]
    assert sorted({name for name in names if names.count(name) > 1}) == []

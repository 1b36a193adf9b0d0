"""Inside a service, its sub-packages import each other in one direction only.

Each service with sub-packages lists them from the bottom up: a package may import the
packages below it and the service's foundation modules (its settings and typed runtime;
for orders also what an order is, its table, its ports and the order source), never one
above it, nor the modules that assemble the service (``service``, ``app``, ``micro``,
``events``, ``errors``…), which stand above every package. Read from the source,
as ``test_import_graph.py`` does: an import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# service package -> (its source directory, its sub-packages from the bottom up, foundation)
LAYERS = {
    "keybuzz_poller": (
        "services/poller/src/keybuzz_poller",
        ["inbound", "reading", "tickets", "shops", "replies", "polling"],
        {"runtime", "settings"},
    ),
    "keybuzz_orders": (
        "services/orders/src/keybuzz_orders",
        ["notifications", "backfill"],
        {"settings", "domain", "store", "ports", "order_source"},
    ),
}


def _imports(path: Path, service: str) -> Iterator[tuple[str, int]]:
    """(first name under the service package, line) of every import of the service's own."""
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
            if node.module == service:
                names = [f"{service}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == service and len(parts) > 1:
                yield parts[1], node.lineno


def _violations(service: str) -> Iterator[str]:
    source, layers, foundation = LAYERS[service]
    root = ROOT / source
    rank = {package: i for i, package in enumerate(layers)}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if len(relative.parts) == 1:
            continue  # the service's own top-level modules may import any package
        package = relative.parts[0]
        for target, line in _imports(path, service):
            allowed = target in foundation or (target in rank and rank[target] <= rank[package])
            if not allowed:
                yield f"{relative}:{line} ({package}) imports {target}"


@pytest.mark.parametrize("service", sorted(LAYERS))
def test_sub_packages_import_only_downwards(service: str) -> None:
    assert list(_violations(service)) == []


@pytest.mark.parametrize("service", sorted(LAYERS))
def test_every_sub_package_has_its_place_in_the_order(service: str) -> None:
    source, layers, _ = LAYERS[service]
    found = {p.name for p in (ROOT / source).iterdir() if (p / "__init__.py").exists()}
    assert found == set(layers)

"""Inside a service, its sub-packages import each other in one direction only.

Each service with sub-packages lists them from the bottom up: a package may import the
packages below it and the service's foundation modules (its settings and typed runtime;
for orders also what an order is, its table, its ports and the order source), never one
above it, nor the modules that assemble the service (``service``, ``app``, ``micro``,
``events``, ``errors``…), which stand above every package. Read from the source,
as ``test_import_graph.py`` does: an import inside a function counts too.

Across packages, the shared library (the seam, the kit) stands below everything: it imports
no service, no connector, no double and no development tool, not even for a type (a feed is
opened on ``seam.FeedContext``, what it needs of a service, never on a service's runtime).
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


def _top_level_imports(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0], node.lineno


def shared_imports_of_other_packages(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in sorted(root.rglob("*.py"))
        for name, line in _top_level_imports(path)
        if name.startswith("keybuzz_") and name != "keybuzz_shared"
    ]


def test_the_shared_library_imports_no_service_connector_or_double() -> None:
    assert shared_imports_of_other_packages(ROOT / "shared/src/keybuzz_shared") == []


def test_the_check_finds_a_service_type_in_the_seam(tmp_path: Path) -> None:
    seam = tmp_path / "seam"
    seam.mkdir()
    (seam / "order_feed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from keybuzz_orders.runtime import Runtime\n"
    )
    assert shared_imports_of_other_packages(tmp_path) == [
        "seam/order_feed.py:3 imports keybuzz_orders"
    ]

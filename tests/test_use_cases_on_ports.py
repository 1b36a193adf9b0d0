"""Use cases on ports, not on the runtime: the modules listed take what they use (a store,
a unit of work, the product's tenants, Vault, LWA) as ports, so that the unit tier runs them with
in-memory fakes and no server. Read from the source, as ``test_import_graph.py`` does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# service package -> its use-case modules that are on ports (the rest follow, service by service)
ON_PORTS = {
    "services/oauth/src/keybuzz_oauth": ["flow.py", "connections.py"],
    "services/tenant-sync/src/keybuzz_tenant_sync": ["sync.py", "connections.py"],
    "services/poller/src/keybuzz_poller": ["inbound/projection.py", "polling/connected.py"],
}
# What a use case on ports never imports: the runtime, transports, drivers, its own adapters
# (the service's, and any sub-package's ``store``).
FORBIDDEN = ("keybuzz_shared.service", "litestar", "nats", "asyncpg", "httpx")
ADAPTERS = ("store", "adapters", "bootstrap", "app", "micro", "events")
SERVICE_ROOT = {ROOT / package: Path(package).name for package in ON_PORTS}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize(
    "path",
    [ROOT / package / module for package, modules in ON_PORTS.items() for module in modules],
    ids=lambda p: f"{p.parent.name}.{p.stem}",
)
def test_a_use_case_on_ports_imports_no_runtime_transport_or_adapter(path: Path) -> None:
    service = next(name for root, name in SERVICE_ROOT.items() if root in path.parents)
    forbidden = (*FORBIDDEN, *(f"{service}.{adapter}" for adapter in ADAPTERS))
    wrong = sorted(
        name
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
        or (name.startswith(service + ".") and "store" in name.split(".")[1:])
    )
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"

"""The docs name only endpoints that exist, and every endpoint is documented.

Every ``METHOD /path`` written in README.md and docs/*.md must be an operation of the
service that owns the path (its OpenAPI document, built from the code) or of the
Amazon sandbox (its routes); every operation of a service's OpenAPI must be named in
that service's own doc. Path parameters match whatever their names (``{orderId}`` in
prose, ``{order_id}`` in the code).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_sandbox.app import create_app as create_sandbox
from keybuzz_sandbox.config import SandboxConfig
from keybuzz_shared.service import ServiceDefinition, create_app
from keybuzz_shared.settings import load_settings
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

from tests.repository_files import tracked_files

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
METHODS = "GET|POST|PUT|PATCH|DELETE"
MENTION = re.compile(rf"\b((?:{METHODS})(?:\|(?:{METHODS}))*) +`?(/[A-Za-z0-9_/{{}}.:-]*)")
PARAMETER = re.compile(r"\{[^}]*\}")

# Which service answers a path, by its prefix; and the doc that must describe it.
OWNERS: dict[str, ServiceDefinition] = {
    "/api/v1/marketplaces": OAUTH,
    "/api/v1/poller/": POLLER,
    "/api/v1/tickets": POLLER,
    "/api/v1/response-times": POLLER,
    "/api/v1/orders": ORDERS,
    "/api/v1/tenants/": TENANT_SYNC,
}
SERVICE_DOCS = {
    "oauth": "OAUTH.md",
    "poller": "POLLER.md",
    "orders": "ORDERS.md",
    "tenant-sync": "TENANT_SYNC.md",
}
# Served by the frame in every service (docs/SERVICE_FRAME.md); /metrics is not in OpenAPI.
FRAME = {"GET /health", "GET /ready", "GET /metrics"}


def _normal(path: str) -> str:
    return PARAMETER.sub("{}", path.rstrip(".,:;)`'\""))


def operations(definition: ServiceDefinition) -> frozenset[str]:
    return _operations(definition.name)


@cache
def _operations(name: str) -> frozenset[str]:
    definition = next(d for d in (OAUTH, POLLER, ORDERS, TENANT_SYNC) if d.name == name)
    app = create_app(definition, load_settings(definition.settings_type))
    assert app.openapi_schema.paths is not None
    return frozenset(
        f"{method.upper()} {_normal(path)}"
        for path, item in app.openapi_schema.paths.items()
        for method in ("get", "post", "put", "patch", "delete")
        if getattr(item, method, None) is not None
    )


@cache
def sandbox_operations() -> frozenset[str]:
    app = create_sandbox(SandboxConfig.from_env())
    return frozenset(
        f"{method} {_normal(re.sub(r':[a-z]+}', '}', route.path))}"
        for route in app.routes
        for method in getattr(route, "methods", ())
    )


def mentions(text: str) -> set[str]:
    found = set()
    for methods, path in MENTION.findall(text):
        for method in methods.split("|"):
            found.add(f"{method} {_normal(path.split('?')[0])}")
    return found


def _owner(operation: str) -> ServiceDefinition | None:
    path = operation.split(" ", 1)[1]
    return next((d for prefix, d in OWNERS.items() if path.startswith(prefix)), None)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_endpoint_the_docs_name_exists(document: Path) -> None:
    unknown = []
    for operation in sorted(mentions(document.read_text())):
        owner = _owner(operation)
        if operation in FRAME:
            continue
        if owner is not None:
            if operation not in operations(owner):
                unknown.append(f"{operation} (not in {owner.name}'s OpenAPI)")
        elif operation not in sandbox_operations():
            unknown.append(f"{operation} (no service or sandbox route)")
    assert unknown == [], f"{document.name} names endpoints that do not exist"


@pytest.mark.parametrize("definition", [OAUTH, POLLER, ORDERS, TENANT_SYNC], ids=lambda d: d.name)
def test_every_operation_is_documented_in_its_service_doc(definition: ServiceDefinition) -> None:
    documented = mentions((ROOT / "docs" / SERVICE_DOCS[definition.name]).read_text())
    frame_documented = mentions((ROOT / "docs" / "SERVICE_FRAME.md").read_text())
    missing = sorted(
        op
        for op in operations(definition)
        if op not in documented and not (op in FRAME and op in frame_documented)
    )
    assert missing == []


def test_the_checker_reads_mentions_and_owners() -> None:
    found = mentions(
        "call `GET|POST /api/v1/orders/{orderId}/messaging-actions`, then GET /health."
    )
    assert found == {
        "GET /api/v1/orders/{}/messaging-actions",
        "POST /api/v1/orders/{}/messaging-actions",
        "GET /health",
    }
    assert "GET /api/v1/orders/{}" in operations(ORDERS)
    assert "GET /api/v1/orders/{}/nothing" not in operations(ORDERS)
    assert "POST /auth/o2/token" in sandbox_operations()


# Applied migrations are immutable (a checksum refuses an edited one): their comments may
# still name the original design document.
OUTSIDE_CITATIONS_ALLOWED = ("/migrations/",)


def test_nothing_cites_a_document_outside_the_repository() -> None:
    """The repository stands alone: docs/ARCHITECTURE.md and docs/CONTRACTS.md are the reference."""
    # git's list, not a walk of the tree: the walk read every file of .venv to drop it
    tracked = [
        p
        for p in map(ROOT.joinpath, tracked_files())
        if p.suffix in {".py", ".md", ".yaml", ".toml", ".txt", ".sql", ".json", ".hcl"}
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
        and not any(allowed in str(p) for allowed in OUTSIDE_CITATIONS_ALLOWED)
        and p.name != Path(__file__).name  # names it in this check
    ]
    citing = [
        str(p.relative_to(ROOT)) for p in tracked if "DESIGN.md" in p.read_text(errors="replace")
    ]
    assert citing == []


@pytest.mark.parametrize("definition", [OAUTH, POLLER, ORDERS, TENANT_SYNC], ids=lambda d: d.name)
def test_every_route_names_its_operation_id(definition: ServiceDefinition) -> None:
    """The frontend's generated clients name their calls after ``operationId``: each route
    sets its own, so that renaming a handler or a controller never renames a call."""
    app = create_app(definition, load_settings(definition.settings_type))
    unnamed = sorted(
        f"{method} {route.path}"
        for route in app.routes
        if not route.path.startswith("/schema")  # Litestar's own OpenAPI pages
        for handler in getattr(route, "route_handlers", [])
        if handler.operation_id is None and handler.http_methods != {"OPTIONS"}  # Litestar's
        for method in sorted(handler.http_methods)
    )
    assert unnamed == []
    ids = [
        op.operation_id
        for item in (app.openapi_schema.paths or {}).values()
        for op in (item.get, item.post, item.put, item.patch, item.delete)
        if op
    ]
    assert len(ids) == len(set(ids)), "operationIds are unique within a service"

"""Use cases on ports, not on the runtime: the modules listed take what they use (a store,
a unit of work, the product's tenants, Vault, LWA) as ports, so that the unit tier runs them with
in-memory fakes and no server. Read from the source, as ``test_import_graph.py`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.source_imports import imported_names

ROOT = Path(__file__).resolve().parents[1]
# service package -> its use-case modules that are on ports (the rest follow, service by service)
ON_PORTS = {
    "services/oauth/src/keybuzz_oauth": ["flow.py", "credential_connect.py", "connections.py"],
    "services/tenant-sync/src/keybuzz_tenant_sync": ["sync.py", "connections.py"],
    "services/poller/src/keybuzz_poller": [
        "inbound/projection.py",
        "reading/new_mail.py",
        "tickets/from_mails.py",
        "tickets/responses.py",
        "tickets/alerts.py",
        "tickets/queries.py",
        "replies/queueing.py",
        "replies/sender.py",
        "replies/bounces.py",
        "polling/connected.py",
        "polling/tenant_poll.py",
        "polling/quarantine.py",
        "polling/status.py",
        "ticket_view.py",
        "shops/connections.py",
        "shops/poll.py",
        "shops/api_replies.py",
    ],
    "services/orders/src/keybuzz_orders": [
        "notifications/order_changes.py",
        "notifications/order_details.py",
        "notifications/subscriptions.py",
        "backfill/starting.py",
        "backfill/backfill.py",
        "backfill/report_strategy.py",
        "sync.py",
        "order_context.py",
        "messaging.py",
    ],
}
# What a use case on ports never imports: the runtime, transports, drivers, its own adapters
# (these, and any SQL module of the service: ``store`` or ``*_store``, in any sub-package).
FORBIDDEN = ("keybuzz_shared.service", "litestar", "nats", "asyncpg", "httpx")
ADAPTERS = ("store", "adapters", "bootstrap", "app", "micro", "events")


@pytest.mark.parametrize(
    "path",
    [ROOT / package / module for package, modules in ON_PORTS.items() for module in modules],
    ids=lambda p: f"{p.parent.name}.{p.stem}",
)
def test_a_use_case_on_ports_imports_no_runtime_transport_or_adapter(path: Path) -> None:
    parts = path.relative_to(ROOT).parts
    package = parts[parts.index("src") + 1]
    forbidden = (*FORBIDDEN, *(f"{package}.{adapter}" for adapter in ADAPTERS))
    imported = imported_names(path)
    wrong = sorted(
        {
            name
            for name in imported
            for bad in forbidden
            if name == bad or name.startswith(bad + ".")
        }
        | {name for name in imported if _is_sql_module(name, package)}
    )
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def _is_sql_module(name: str, package: str) -> bool:
    parts = name.split(".")
    return parts[0] == package and any(p == "store" or p.endswith("_store") for p in parts[1:])

"""Every service's HTTP API fuzzed from its own OpenAPI document (schemathesis).

Each service runs for real (``start_service``: NATS, PostgreSQL, OpenBao, Dovecot
for the poller) and serves its document at ``/schema/openapi.json``. For every
operation in it, schemathesis generates requests (valid and invalid parameters
and bodies), sent twice: with the credentials a caller has (a tenant JWT and
``X-Tenant-Id``, the internal key) and with none. Whatever it sends, the service
must answer without a 5xx, and every error body must be JSON.

Bounded for the suite: ``FUZZ_EXAMPLES`` examples per operation and credential
set (default 8), a fixed seed (``derandomize``), no example database. Run with
more: ``FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/test_fuzz_http.py``
(docs/SECURITY.md, "Fuzzing").
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
from keybuzz_devstack import bootstrap
from keybuzz_devstack.consent_apps import register_consent_apps
from keybuzz_devstack.testing import start_service_on_module_nats, until_the_limit
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_sandbox import doubles
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_INTERNAL_API_KEY, DEV_JWT_SECRET
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

start_service = start_service_on_module_nats  # why: tests/test_services_start.py

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
TENANT = "fuzz-tenant-001"


# A few operations each document must hold (a sign the right document was read).
EXPECTED = {
    "oauth": {
        "POST /api/v1/marketplaces/amazon/oauth/start",
        "GET /api/v1/marketplaces/amazon/status",
    },
    "poller": {"POST /api/v1/poller/poll", "GET /api/v1/poller/status"},
    "orders": {
        "GET /api/v1/orders",
        "GET /api/v1/orders/{order_id}/messaging-actions",
        "POST /api/v1/orders/{order_id}/messaging-actions",
    },
    "tenant-sync": {"POST /api/v1/tenants/sync", "GET /api/v1/tenants/status/{tenant_id}"},
}


def _credentials() -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, "fuzzer", tenants=[TENANT])
    return {
        "Authorization": f"Bearer {token}",
        "X-Tenant-Id": TENANT,
        "X-Internal-Key": DEV_INTERNAL_API_KEY,
    }


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    operations: set[str] = field(default_factory=set)

    def check(self, label: str, case: Any, response: Any) -> None:
        self.requests += 1
        self.operations.add(f"{case.method} {case.path}")
        where = f"{label} {case.method} {case.formatted_path} -> {response.status_code}"
        if response.status_code >= 500:
            self.problems.append(f"{where}: {response.text[:300]} (sent {_sent(case)})")
        elif response.status_code >= 400 and not _is_json(response):
            self.problems.append(f"{where}: error body is not JSON: {response.text[:200]!r}")


def _sent(case: Any) -> str:
    return json.dumps(
        {"path": case.path_parameters, "query": case.query, "body": case.body}, default=str
    )[:400]


def _is_json(response: Any) -> bool:
    content_type = response.headers.get("content-type") or [""]  # schemathesis: lists
    if "json" not in (content_type if isinstance(content_type, str) else content_type[0]):
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True


def _fuzz(url: str, auth: dict[str, dict[str, str]], timeout: float) -> Findings:
    """Synchronous (schemathesis sends with requests): run in a thread, off the event loop.
    schemathesis imported here, not at the module's top: every test worker imports every
    test module, and it was a tenth of that (with hypothesis and Faker)."""
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json", timeout=timeout)
    findings = Findings()
    session = requests.Session()
    for result in schema.get_all_operations():
        for label, headers in auth.items():
            _fuzz_operation(result.ok(), label, headers, session, findings, timeout)
    return findings


def _fuzz_operation(
    operation: Any,
    label: str,
    headers: dict[str, str],
    session: requests.Session,
    findings: Findings,
    timeout: float,
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same requests on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(
            session=session, headers=dict(headers), allow_redirects=False, timeout=timeout
        )
        findings.check(label, case, response)

    run()


# Hypothesis's examples are CPU: on a machine busy with other work (a loaded run took
# over 120 s for oauth's, 12 s on a quieter one) the suite's default limit is too short.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("definition", [OAUTH, POLLER, ORDERS, TENANT_SYNC], ids=lambda d: d.name)
async def test_no_5xx_and_json_errors_whatever_is_sent(
    start_service, make_database, dovecot, vault, request, definition
):
    extra = dovecot.settings if definition is POLLER else {}
    if definition is OAUTH:  # a shop's credentials are checked with the doubles first
        extra = doubles.service_env(request.getfixturevalue("sandbox_url"))
    if definition is TENANT_SYNC:  # the product database it mirrors (seed 004's tenants)
        extra = {"PRODUCT_DATABASE_URL": await make_database("product")}
        await bootstrap.seed_product_database(extra["PRODUCT_DATABASE_URL"])
    service = await start_service(definition, **extra)
    if definition is OAUTH:  # configured as deployed: each consent marketplace's app in Vault
        sandbox = request.getfixturevalue("sandbox_url")
        async with httpx.AsyncClient(base_url=sandbox, timeout=10) as admin:
            await register_consent_apps(admin, service.url, vault)
    auth = {"with-credentials": _credentials(), "anonymous": {}}
    # Each answer waited for up to the test's limit, a bound for a hang: a loaded machine
    # held the poller's document past 10 s (load 20).
    findings = await asyncio.to_thread(_fuzz, service.url, auth, until_the_limit())
    print(definition.name, findings.requests, "requests", sorted(findings.operations))
    assert EXPECTED[definition.name] <= findings.operations  # the whole document was fuzzed
    assert not findings.problems, "\n".join(findings.problems[:20])

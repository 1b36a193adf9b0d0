"""docs/OPERATIONS.md stays true: its stand-in commands run, its names exist in the code.

The ``python -m keybuzz_devstack pub|req`` examples for tenant-sync, the poller and
JetStream's API are run in the document's order against tenant-sync and the poller
started on a NATS server of the test's own (the orders examples need a seller
connected through the sandbox and are not run here). Every metric and every NATS
operator endpoint the document names must exist in the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
import re
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import keybuzz_devstack.__main__ as devstack_cli
import litestar.plugins.prometheus.middleware as litestar_prometheus
import pytest
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "OPERATIONS.md").read_text()
STAND_IN = ".venv/bin/python -m keybuzz_devstack "
DEFINITIONS = [OAUTH, POLLER, ORDERS, TENANT_SYNC]
# Subjects whose examples run here: the services this test starts, and NATS's own APIs.
RUNNABLE = re.compile(
    r"^(tenant\.created|keybuzz\.(tenant-sync|poller)\.|\$JS\.API\.|\$SRV\.INFO\.keybuzz-(tenant-sync|poller)$)"
)
DOC_TENANT = "kbz-005"
# What the document says a redrive of a still-bad event looks like (Dead letters).
BAD_EVENT = '{"tenantId":"not a tenant id","name":"x","plan":"pro","status":"active"}'

StartService = Callable[..., Awaitable[RunningService]]


def stand_in_examples() -> list[list[str]]:
    """Each distinct ``python -m keybuzz_devstack pub|req …`` line, as argv, in order."""
    seen: list[list[str]] = []
    for line in DOC.splitlines():
        if line.startswith(STAND_IN):
            argv = shlex.split(line.removeprefix(STAND_IN).split(" # ")[0])
            if argv not in seen:
                seen.append(argv)
    return seen


def run_stand_in(argv: list[str]) -> str:
    """The stand-in's own entry point with these arguments, its output captured.

    Called in a worker thread: it runs its own event loop (asyncio.run).
    """
    output = io.StringIO()
    saved = sys.argv
    sys.argv = ["keybuzz_devstack", *argv]
    try:
        with contextlib.redirect_stdout(output), contextlib.suppress(SystemExit):
            devstack_cli.main()
    finally:
        sys.argv = saved
    return output.getvalue().strip()


async def test_the_stand_in_examples_work_against_the_services(
    private_nats: infra.RunningServer,
    start_service: StartService,
    make_database: Callable[[str], Awaitable[str]],
    dovecot: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = [argv for argv in stand_in_examples() if RUNNABLE.match(argv[1])]
    assert len(examples) >= 10, examples  # the document still shows them
    product = await make_database("product")
    await bootstrap.seed_product_database(product)  # seed 004's tenants, e.g. ecomlg-001
    shared = {"NATS_URL": private_nats.spec.url, "DATABASE_URL": await make_database("ops")}
    await start_service(TENANT_SYNC, PRODUCT_DATABASE_URL=product, **shared)
    poller = await start_service(POLLER, POLL_ENABLED="false", **dovecot.settings, **shared)
    monkeypatch.setenv("NATS_URL", private_nats.spec.url)
    # The bad event the document redrives, so the dead-letter examples find it.
    assert "stored in TENANTS" in await asyncio.to_thread(
        run_stand_in, ["pub", "tenant.created", BAD_EVENT]
    )
    for argv in examples:
        if argv[1].startswith("keybuzz.poller."):
            await eventually(lambda: _pollable(poller))
        output = await asyncio.to_thread(run_stand_in, argv)
        assert output and not output.startswith("error:"), (argv, output)
        if output.startswith("{"):
            answer = json.loads(output)
            assert "error" not in answer, (argv, answer)  # JetStream API errors come so


async def _pollable(poller: RunningService) -> bool:
    """tenant-sync's tenant.synced for the document's tenant reached the poller."""
    return bool(
        await poller.runtime.pool.fetchval(
            "SELECT count(*) FROM poller_inbound_addresses WHERE tenant_id = $1", DOC_TENANT
        )
    )


def test_every_nats_endpoint_named_exists() -> None:
    actions = {"redrive"}  # every service answers it (keybuzz_shared.redrive)
    services = set()
    for definition in DEFINITIONS:
        services.add(definition.name)
        if definition.micro_endpoints:
            # Building the endpoints only closes over the runtime; nothing is called.
            endpoints = definition.micro_endpoints(cast(Any, None))
            actions |= {f"{definition.name}.{e.action}" for e in endpoints}
    named = set(re.findall(r"keybuzz\.([a-z-]+\.[a-z-]+)", DOC))
    named_actions = {n for n in named if not n.startswith("<service>")}
    assert named_actions, "the document names operator endpoints"
    for name in named_actions:
        service, action = name.split(".")
        assert service in services, name
        assert name in actions or action == "redrive", f"keybuzz.{name} does not exist"
    for micro in re.findall(r"keybuzz-(oauth|poller|orders|tenant-sync)\b", DOC):
        assert micro in services


def test_every_metric_named_exists_in_the_code() -> None:
    section = DOC.split("## Metrics and alerts", 1)[1]
    named = set(re.findall(r"\b(keybuzz_[a-z_]+)", section))
    assert len(named) >= 15, named
    sources = "\n".join(
        path.read_text()
        for folder in ("shared/src", "connectors", "services")
        for path in (ROOT / folder).rglob("*.py")
        if "tests" not in path.parts
    )
    http_names = inspect.getsource(litestar_prometheus)
    for name in sorted(named):
        series = re.sub(r"_(bucket|count|sum)$", "", name)  # a histogram's series
        if series.startswith("keybuzz_http_"):
            # Litestar's middleware names them "{prefix}_<what>" (prefix keybuzz_http).
            assert series.removeprefix("keybuzz_http") + '"' in http_names, name
        else:  # prometheus_client adds _total to a counter's name
            assert f'"{series.removesuffix("_total")}"' in sources, f"{name} is not in the code"

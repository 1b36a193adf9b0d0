"""CPU to build a Litestar app, as every test starting a sandbox or a service pays it: the
sandbox's ``create_app`` serving every double, and each service's ``create_app`` (its
frame, its routes, its OpenAPI router), beside the same-run baseline of an app of one
handler with Litestar's default OpenAPI router (what any service pays whatever its routes).

No server is used. Run by hand: ``.venv/bin/python -m bench bench_app_build``
(``BENCH_APP_BUILDS``, default 10 builds a batch). Each figure is process CPU time, best
of 5 batches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_sandbox.app import create_app as create_sandbox
from keybuzz_sandbox.config import SandboxConfig
from keybuzz_shared.service import create_app
from keybuzz_shared.settings import load_settings
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from litestar import Litestar, get
from litestar.openapi import OpenAPIConfig

BUILDS = int(os.environ.get("BENCH_APP_BUILDS", "10"))


def _ms_per_build(build: Callable[[], Any]) -> float:
    """CPU milliseconds a build, best of 5 batches of ``BUILDS``."""
    build()  # what a first build imports or reads once
    batches = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(BUILDS):
            build()
        batches.append((time.process_time() - start) / BUILDS * 1000)
    return min(batches)


@get("/health", sync_to_thread=False)
def _health() -> dict[str, str]:
    return {"status": "ok"}


def _bare_app() -> Litestar:
    openapi = OpenAPIConfig(title="bench", version="1", path="/schema")
    return Litestar([_health], openapi_config=openapi)


async def run(ctx: Any) -> list[dict[str, Any]]:
    bare = _ms_per_build(_bare_app)
    figures = [
        {
            "name": "app build: the sandbox, every double",
            "value": round(_ms_per_build(lambda: create_sandbox(SandboxConfig())), 1),
            "unit": "ms CPU/build",
            "baseline": round(bare, 1),
            "note": "baseline: one handler and the default OpenAPI router",
        }
    ]
    for definition in (OAUTH, ORDERS, POLLER, TENANT_SYNC):
        settings = load_settings(definition.settings_type, {})
        build = _ms_per_build(partial(create_app, definition, settings))
        figures.append(
            {
                "name": f"app build: {definition.name}",
                "value": round(build, 1),
                "unit": "ms CPU/build",
                "baseline": round(bare, 1),
            }
        )
    return figures

"""Each service's main read endpoint under a constant arrival rate (200 and 400 req/s).

Each service runs as ``make up`` runs it, in its own process
(``python -m keybuzz_<name>``: uvicorn with uvloop and httptools) on the
benchmark's stack; the load comes from another process
(``python -m bench.bench_http load …``, aiohttp) so that the client's work
shares no event loop with a service. Requests
are sent at fixed instants (``i / rate``) whether or not earlier ones have
answered, and latency is counted from the instant a request was due, so a
stalled server cannot hide its queue (no coordinated omission). Each figure's
baseline is the same service's ``/health`` at the same rate just before: on a
shared machine it says what the process could do at that moment.

Endpoints:
- oauth ``GET /api/v1/marketplaces/amazon/status`` for a connected tenant:
  one database read plus one Vault read of the tenant's credentials;
- tenant-sync ``GET /api/v1/tenants/status/{tenantId}``: product and marketplace
  database reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass

import aiohttp
import asyncpg
import httpx
from keybuzz_connector_amazon.credentials import TenantCredentials, store_tenant_credentials
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_INTERNAL_API_KEY, DEV_JWT_SECRET
from keybuzz_shared.vault import VaultClient

from bench.harness import BenchContext, Figure

RATES = (200, 400)
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "10"))
WARM_UP_REQUESTS = 200
TENANT = "ecomlg-001"
SELLER = "A12BCIS2R7HD4D"
TARGET_P99_MS = 25.0


@dataclass
class Endpoint:
    label: str
    url: str
    headers: dict[str, str]


@dataclass
class Service:
    """A service as ``make up`` runs it: its own process (``python -m keybuzz_<name>``)."""

    server: infra.RunningServer
    database_url: str

    @property
    def url(self) -> str:
        return self.server.spec.url


async def run(ctx: BenchContext) -> list[Figure]:
    oauth = await _start_service(ctx, "oauth", "OAUTH_PORT")
    try:
        tenant_sync = await _start_service(ctx, "tenant-sync", "TENANT_SYNC_PORT")
        try:
            endpoints = [
                await _connected_oauth_status(ctx, oauth),
                await _synced_tenant_status(tenant_sync),
            ]
            figures: list[Figure] = []
            for endpoint in endpoints:
                for rate in RATES:
                    print(f"  {endpoint.label} at {rate}/s …", file=sys.stderr, flush=True)
                    health = await _load(_health_of(endpoint), rate)
                    figures.append(_figure(endpoint, rate, await _load(endpoint, rate), health))
            return figures
        finally:
            await asyncio.to_thread(tenant_sync.server.stop)
    finally:
        await asyncio.to_thread(oauth.server.stop)


async def _start_service(
    ctx: BenchContext, name: str, port_variable: str, command: list[str] | None = None
) -> Service:
    port = infra.free_port()
    database_url = await ctx.make_database(f"bench_{name}")
    env = {
        "NATS_URL": ctx.nats_url,
        "DATABASE_URL": database_url,
        "PRODUCT_DATABASE_URL": await _product_database(ctx),
        "VAULT_ADDR": ctx.vault_addr,
        # As in make up: each service with its own token and policy.
        "VAULT_TOKEN": bootstrap.service_token_id(name),
        port_variable: str(port),
        "LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{port}"
    spec = infra.ServerSpec(
        name=name,
        command=command or [sys.executable, "-m", f"keybuzz_{name.replace('-', '_')}"],
        port=port,
        url=url,
        env=env,
        ready=lambda: infra.http_ok(f"{url}/ready"),
    )
    server = infra.RunningServer(spec, ctx.root / f"{name}.log")
    await asyncio.to_thread(server.start, 120)
    return Service(server, database_url)


async def _product_database(ctx: BenchContext) -> str:
    url = await ctx.make_database("bench_product")
    await bootstrap.seed_product_database(url)
    return url


async def _connected_oauth_status(ctx: BenchContext, oauth: Service) -> Endpoint:
    """A tenant connected as the callback leaves it: credentials in Vault, row CONNECTED."""
    root = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
    credentials = TenantCredentials(
        tenant_id=TENANT,
        refresh_token="Atzr|bench-refresh-token",
        seller_id=SELLER,
        marketplace_id="A13V1IB3VIYZZH",
        region="eu",
    )
    path = await store_tenant_credentials(root, credentials)
    await root.aclose()
    conn = await asyncpg.connect(oauth.database_url)
    try:
        await conn.execute(
            "INSERT INTO marketplace_connections (tenant_id, marketplace_type, status, seller_id, "
            "marketplace_ids, region, vault_path, connected_by, connected_at) "
            "VALUES ($1, 'AMAZON', 'CONNECTED', $2, $3, 'eu', $4, 'bench', now())",
            TENANT,
            SELLER,
            [credentials.marketplace_id],
            path,
        )
    finally:
        await conn.close()
    token = issue_token(DEV_JWT_SECRET, "bench-user", tenants=[TENANT])
    endpoint = Endpoint(
        "oauth GET /api/v1/marketplaces/amazon/status",
        f"{oauth.url}/api/v1/marketplaces/amazon/status",
        {"Authorization": f"Bearer {token}", "X-Tenant-Id": TENANT},
    )
    body = await _get_ok(endpoint)
    assert body.get("credentialsVerified") is True, body  # the Vault read is really made
    return endpoint


async def _synced_tenant_status(tenant_sync: Service) -> Endpoint:
    headers = {"X-Internal-Key": DEV_INTERNAL_API_KEY}
    async with httpx.AsyncClient(base_url=tenant_sync.url, headers=headers, timeout=10) as http:
        answer = await http.post("/api/v1/tenants/sync", json={"tenantId": TENANT})
        answer.raise_for_status()
    endpoint = Endpoint(
        "tenant-sync GET /api/v1/tenants/status/{tenantId}",
        f"{tenant_sync.url}/api/v1/tenants/status/{TENANT}",
        headers,
    )
    await _get_ok(endpoint)
    return endpoint


async def _get_ok(endpoint: Endpoint) -> dict[str, object]:
    async with httpx.AsyncClient(headers=endpoint.headers, timeout=10) as http:
        answer = await http.get(endpoint.url)
    answer.raise_for_status()
    body: dict[str, object] = answer.json()
    return body


async def _load(endpoint: Endpoint, rate: int) -> dict[str, float]:
    """Run the load client process and return its summary."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_http",
        "load",
        endpoint.url,
        "--rate",
        str(rate),
        "--seconds",
        str(SECONDS),
        "--headers",
        json.dumps(endpoint.headers),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"load client failed for {endpoint.label} at {rate}/s")
    summary: dict[str, float] = json.loads(out)
    return summary


def _health_of(endpoint: Endpoint) -> Endpoint:
    """The same service's ``/health`` (no I/O): what the process and the machine allow now."""
    base = endpoint.url.split("/api/", 1)[0]
    return Endpoint(f"{base}/health", f"{base}/health", {})


def _figure(endpoint: Endpoint, rate: int, s: dict[str, float], health: dict[str, float]) -> Figure:
    return {
        "name": f"{endpoint.label} @ {rate}/s p99",
        "value": s["p99_ms"],
        "unit": "ms",
        "baseline": health["p99_ms"],
        "note": (
            f"target ≤ {TARGET_P99_MS:.0f} ms; {int(s['requests'])} requests in {SECONDS:.0f} s, "
            f"{int(s['errors'])} errors, p50 {s['p50_ms']:.1f} ms, max {s['max_ms']:.0f} ms, "
            f"client lag max {s['lag_max_ms']:.0f} ms; baseline: the same service's /health "
            f"at the same rate just before (p99; {int(health['errors'])} errors)"
        ),
    }


# --- the load client (its own process) ---------------------------------------------------


async def _constant_rate(
    url: str, headers: dict[str, str], rate: int, seconds: float
) -> dict[str, float]:
    # aiohttp, not httpx: httpx's connection pool stalls with hundreds of requests in flight.
    connector = aiohttp.TCPConnector(limit=1000)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as http:
        for _ in range(WARM_UP_REQUESTS // 10):  # warm the connection pool and the server
            await asyncio.gather(*(_get(http, url) for _ in range(10)))
        return await _measure(http, url, rate, seconds)


async def _get(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url) as answer:
            await answer.read()
            return answer.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _measure(
    http: aiohttp.ClientSession, url: str, rate: int, seconds: float
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    lag_max = 0.0

    async def one(due: float) -> None:
        nonlocal errors
        if not await _get(http, url):
            errors += 1
        latencies.append(loop.time() - due)

    start = loop.time() + 0.05
    tasks = []
    for i in range(count):
        due = start + i / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        lag_max = max(lag_max, loop.time() - due)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "requests": count,
        "errors": errors,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": 1000 * latencies[-1],
        "lag_max_ms": 1000 * lag_max,
    }


def _load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_http load")
    parser.add_argument("url")
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--headers", default="{}")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = asyncio.run(
        _constant_rate(args.url, json.loads(args.headers), args.rate, args.seconds)
    )
    summary["wall_seconds"] = time.perf_counter() - started
    print(json.dumps(summary))


if __name__ == "__main__" and sys.argv[1:2] == ["load"]:
    _load_main(sys.argv[2:])

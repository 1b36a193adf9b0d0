"""The services' HTTP clients share one verifying TLS context per trust (keybuzz_shared.tls),
and the suite's clients built without one trust no public CA (keybuzz_devstack.testing)."""

from __future__ import annotations

import ssl

import certifi
import httpx
from keybuzz_shared.addresses import data_client
from keybuzz_shared.http_pools import SpreadTransport
from keybuzz_shared.tls import verifying


async def test_clients_share_one_verifying_context_per_trust() -> None:
    public, private = verifying(), verifying(certifi.where())
    assert public is verifying() and private is verifying(certifi.where())
    assert public is not private
    for context in (public, private):
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    pools = SpreadTransport(2, limits=httpx.Limits())
    async with data_client(1.0, inside_allowed=True) as data:
        made = [t._pool._ssl_context for t in (*pools.transports, data._transport)]  # type: ignore[attr-defined]
    await pools.aclose()
    assert all(context is public for context in made)


def test_the_suites_clients_built_without_a_context_trust_no_public_ca() -> None:
    assert httpx.create_ssl_context().cert_store_stats()["x509_ca"] == 0

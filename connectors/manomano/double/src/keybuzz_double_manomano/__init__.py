"""The ManoMano double: its mail relay and its partner API's orders (docs/MANOMANO.md); what
points a service at it (its package's ``service_env``), the domains it signs and relays for,
and its own settings (``SANDBOX_MANOMANO_<FIELD>``, read by ``config.double_settings``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_sandbox.dkim_signing import published_records
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.ports import StackPort

SELECTOR = "sandbox"
# The domains the double signs for (d=): ManoMano's notices', its support's, its relay's.
SIGNING_DOMAINS = ("manomano.fr", "monechelle.zendesk.com", "contact.manomano.com")
# Its relay writes from buyers' aliases at BUYER_DOMAIN and from the support's address, and
# takes sellers' replies for both domains (the ``Double``'s ``reply_domains``).
BUYER_DOMAIN = "contact.manomano.com"
SUPPORT_ADDRESS = "support@monechelle.zendesk.com"


class ManoManoDoubleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``SANDBOX_MANOMANO_<FIELD>`` (docs/SANDBOX.md, "ManoMano double" and "Settings")."""

    reply_smtp_host: str = "127.0.0.1"
    reply_smtp_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0  # 0: a free port
    mx_host: str = "127.0.0.1"
    mx_port: StackPort = 2525  # the stack's MX, moved by KEYBUZZ_PORT_OFFSET
    extra_shops: Annotated[int, msgspec.Meta(ge=0, le=49_999)] = 0


def service_env(sandbox_url: str) -> dict[str, str]:
    """The ManoMano connector's settings for a sandbox at ``sandbox_url``: its partner API
    there, and the double's DKIM key (its record under each domain it signs for) instead of
    DNS."""
    return {
        "MANOMANO_API_URL": f"{sandbox_url}/manomano",
        "MANOMANO_DKIM_KEYS": published_records(SELECTOR, SIGNING_DOMAINS),
    }


DOUBLE = Double(
    "manomano",
    service_env,
    settings=ManoManoDoubleSettings,
    routes_at="keybuzz_double_manomano.routes:manomano_routes",
    relay_drivers_at="keybuzz_double_manomano.driver:relay_drivers",
    listers_at="keybuzz_double_manomano.driver:lister",
    reply_domains=(BUYER_DOMAIN, SUPPORT_ADDRESS.rpartition("@")[2]),
    reply_relay_at="keybuzz_double_manomano.relay:listening_at",
)

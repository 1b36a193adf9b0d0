"""The ManoMano double: its mail relay (buyers', support's, invoice requests' and notices'
mails, DKIM-signed, sent to an inbound address; replies taken over SMTP and bounced when
told) and its partner API's orders, under /manomano."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double

from .env import REPLY_DOMAINS, ManoManoDoubleSettings, service_env

DOUBLE = Double(
    "manomano",
    service_env,
    settings=ManoManoDoubleSettings,
    routes_at="keybuzz_double_manomano.routes:manomano_routes",
    relay_drivers_at="keybuzz_double_manomano.driver:relay_drivers",
    listers_at="keybuzz_double_manomano.driver:lister",
    reply_domains=REPLY_DOMAINS,
    reply_relay_at="keybuzz_double_manomano.relay:listening_at",
)

__all__ = ["DOUBLE", "service_env"]

"""The marketplaces whose buyers write through an e-mail relay: the connectors with a
``mail_relay`` part (docs/ARCHITECTURE.md, "The connector seam"). The poller's mail
machinery (MX, IMAP, parsing, bounces, sending) asks the relay of a mail's marketplace
what is the relay's: its buyer aliases, order ids, reply subjects and limits."""

from __future__ import annotations

from keybuzz_shared.connectors.registry import connectors
from keybuzz_shared.connectors.seam import MailRelay

# marketplace -> its relay, in the registry's order.
RELAYS: dict[str, MailRelay] = {
    c.marketplace: c.mail_relay for c in connectors() if c.mail_relay is not None
}
# marketplace -> how sellers call it (in what a check says).
RELAY_NAMES = {c.marketplace: c.display_name for c in connectors() if c.mail_relay is not None}
# A mail whose inbound address names no marketplace came through the first relay: the
# marketplace its ticket, external message and events carry.
RELAY_MARKETPLACE = next(iter(RELAYS))
# The first label of an inbound address's local part -> its marketplace.
ADDRESS_LABELS = {relay.address_label: marketplace for marketplace, relay in RELAYS.items()}


def relay_marketplace(marketplace: str | None) -> str:
    """``marketplace`` when it has a relay, else the first relay's marketplace."""
    return marketplace if marketplace in RELAYS else RELAY_MARKETPLACE


def relay_for(marketplace: str | None) -> MailRelay:
    """The relay of ``marketplace``; the first relay for a mail of no known marketplace."""
    return RELAYS[relay_marketplace(marketplace)]

"""The marketplaces whose buyers write through an e-mail relay: the connectors with a
``mail_relay`` part (docs/ARCHITECTURE.md, "The connector seam"), asked of the registry at
each use, so that a relay added or removed (an entry point installed, a connector
registered) is found without a restart, as shop APIs are. The poller's mail machinery
(MX, IMAP, parsing, bounces, sending) asks the relay of a mail's marketplace what is the
relay's: its buyer aliases, order ids, reply subjects and limits."""

from __future__ import annotations

from collections.abc import Mapping

from keybuzz_shared.connectors.registry import connectors, serving
from keybuzz_shared.connectors.seam import Connector, MailRelay


class NoRelay(LookupError):
    """No connector installed has a mail relay."""


class _OfReading:
    """The relays of one reading of the registry and their address labels, worked out once:
    the parse asks for them two or three times a mail (~2 µs each to work out again)."""

    def __init__(self, reading: Mapping[str, Connector]) -> None:
        self.reading = reading
        self.relays = {
            c.marketplace: c.mail_relay for c in reading.values() if c.mail_relay is not None
        }
        self.labels = {relay.address_label: m for m, relay in self.relays.items()}


_worked_out: _OfReading | None = None


def _of_now() -> _OfReading:
    global _worked_out
    reading, kept = serving(), _worked_out
    if kept is None or kept.reading is not reading:
        kept = _worked_out = _OfReading(reading)
    return kept


def relays() -> Mapping[str, MailRelay]:
    """marketplace -> its relay, in the registry's order, as of now."""
    return _of_now().relays


def relay_names() -> dict[str, str]:
    """marketplace -> how sellers call it (in what a check says), for each relay."""
    return {c.marketplace: c.display_name for c in connectors() if c.mail_relay is not None}


def default_marketplace() -> str:
    """The first relay's marketplace: what a mail whose inbound address names none came
    through (its ticket, external message and events carry it)."""
    return _first(relays())


def _first(found: Mapping[str, MailRelay]) -> str:
    for marketplace in found:
        return marketplace
    raise NoRelay("no connector has a mail relay")


def address_labels() -> Mapping[str, str]:
    """The first label of an inbound address's local part -> its marketplace."""
    return _of_now().labels


def relay_marketplace(marketplace: str | None) -> str:
    """``marketplace`` when it has a relay, else the first relay's marketplace."""
    return _chosen(relays(), marketplace)


def relay_for(marketplace: str | None) -> MailRelay:
    """The relay of ``marketplace``; the first relay for a mail of no known marketplace."""
    found = relays()  # asked of the registry once
    return found[_chosen(found, marketplace)]


def _chosen(found: Mapping[str, MailRelay], marketplace: str | None) -> str:
    return marketplace if marketplace is not None and marketplace in found else _first(found)

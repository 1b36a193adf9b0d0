"""The poller's ports, gathered: each sub-package declares what its use cases use
(``inbound/ports.py``, ``reading/ports.py``, ``shops/ports.py``,
``tickets/ports.py``, ``replies/ports.py``, ``polling/ports.py``, ``shops/connection_ports.py``),
``bootstrap.py`` assembles the adapters once."""

from __future__ import annotations

from dataclasses import dataclass, field

from keybuzz_poller.inbound.ports import InboundPorts
from keybuzz_poller.polling.ports import PollingPorts, PollPorts
from keybuzz_poller.replies.ports import RepliesPorts
from keybuzz_poller.shops.closing_ports import ClosingPorts
from keybuzz_poller.shops.connection_ports import ShopPollingPorts
from keybuzz_poller.shops.ports import ShopPorts
from keybuzz_poller.tickets.ports import Clock, TicketsPorts, system_clock


@dataclass(frozen=True)
class PollerPorts:
    inbound: InboundPorts
    polling: PollingPorts
    polls: PollPorts
    tickets: TicketsPorts
    replies: RepliesPorts
    shops: ShopPorts  # polling a marketplace shop over its API
    shop_polling: ShopPollingPorts  # a shop's connection and schedule
    closing: ClosingPorts  # a ticket closed on its marketplace
    # What response deadlines are read against (OVERDUE, the report's window): a test fixes it.
    clock: Clock = field(default=system_clock)

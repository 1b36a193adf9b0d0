"""The poller's ports, gathered: each sub-package declares what its use cases use
(``inbound/ports.py``, ``polling/ports.py``), ``bootstrap.py`` assembles the adapters once."""

from __future__ import annotations

from dataclasses import dataclass

from keybuzz_poller.inbound.ports import InboundPorts
from keybuzz_poller.polling.ports import PollingPorts


@dataclass(frozen=True)
class PollerPorts:
    inbound: InboundPorts
    polling: PollingPorts

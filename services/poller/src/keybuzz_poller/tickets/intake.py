"""What storing messages entails beyond their rows, hung once off the unit of work that
stores them, alike for a relayed mail, a shop's message, a bounce and a reply's outcome.

Whatever writes in a unit of work asks it for its one ``Intake`` (``intake_of``) and names
there what it did: the tickets whose deadline it changed (``touch``) and the messages it
stored for a ticket (``received``: their ``message.received``, emitted in the unit). When
the unit's block ends, the deadlines of the tickets touched are recomputed once each, in
its transaction (a thread of thousands of messages costs one read of its facts per unit,
not one per message); once it has committed, the buyer messages' topics are counted. If
the block raises, none of it happens: no deadline, no event, no count. The stores only
store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keybuzz_shared.ticket_topics import Topics
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.tickets import topics
from keybuzz_poller.tickets.ports import DeadlineStore, ExternalMessageRow, TicketMessageRow
from keybuzz_poller.tickets.received import message_received
from keybuzz_poller.tickets.responses import refresh_deadlines


class Intake:
    """One unit of work's stored messages: its tickets touched, its buyer messages' topics."""

    def __init__(self, unit: StoreUnit[Any], tickets: DeadlineStore) -> None:
        self._unit = unit
        self._tickets = tickets
        self.touched: set[str] = set()
        self._read: list[Topics] = []

    def touch(self, ticket_ids: Iterable[str]) -> None:
        """Tickets whose deadline the unit's writes changed (each named as often as it is)."""
        self.touched.update(ticket_ids)

    def received(
        self,
        external: ExternalMessageRow,
        message: TicketMessageRow,
        event_id: str | None = None,
        read: Topics | None = None,
    ) -> None:
        """A message stored on its ticket: its ``message.received`` (with ``read``, the
        topics read for it when it was stored), published once the unit commits."""
        self._unit.emit(message_received(external, message, event_id, read))
        if read is not None:
            self._read.append(read)

    async def settle(self) -> None:
        """The touched tickets' deadlines, each once, in id order (concurrent units lock
        them in the same order)."""
        await refresh_deadlines(self._tickets, sorted(self.touched))

    def committed(self) -> None:
        for read in self._read:
            topics.count(read)


def intake_of(unit: StoreUnit[Any], tickets: DeadlineStore) -> Intake:
    """The unit's one ``Intake`` on ``tickets`` (its transaction's ticket store)."""
    return unit.pending_of(Intake, lambda: Intake(unit, tickets))

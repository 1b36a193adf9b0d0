"""An agent closes a ticket on its marketplace (``POST /api/v1/tickets/{id}/close``): through
the connector's ``thread_closing`` part, on the shop's one session; the ticket is CLOSED in
our rows once the marketplace agreed. A close is held once: the ticket is held by its unit
of work while the marketplace is asked, so a second close asked meanwhile waits, then finds
it CLOSED and asks nothing. A later buyer message re-opens it (``tickets/store.py``)."""

from __future__ import annotations

from keybuzz_shared.connectors.registry import connector_serving
from keybuzz_shared.connectors.seam import ThreadClosing
from keybuzz_shared.redaction import remote_excerpt

from keybuzz_poller.shops.closing_ports import CloseRefused, ClosingPorts
from keybuzz_poller.shops.domain import Shop, thread_of
from keybuzz_poller.shops.ports import ShopKeyRefused
from keybuzz_poller.tickets.queries import TicketNotFound


class CloseNotSupported(Exception):
    """The ticket's marketplace offers no way to close it from here."""


def closing_part(marketplace: str) -> ThreadClosing | None:
    """The marketplace's connector's ``thread_closing``, read at each close (None: none)."""
    connector = connector_serving(marketplace)
    return connector.thread_closing if connector is not None else None


async def close_ticket(ports: ClosingPorts, tenant_id: str, ticket_id: str) -> None:
    """Closes the ticket on its marketplace, then in our rows; nothing asked when it is
    CLOSED already. TicketNotFound, CloseNotSupported, or the marketplace's refusal
    (``CloseRefused``; a refused key makes the shop REAUTH_REQUIRED) or failure (the
    ``ThreadCloser``'s): the ticket left as it was."""
    async with ports.unit_of_work() as unit:
        ticket = await unit.store.held_ticket(tenant_id, ticket_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        if ticket.closed:
            return
        part = ports.part_of(ticket.marketplace)
        thread = thread_of(ticket.thread_key, ticket.order_id)
        if part is None or thread is None:
            raise CloseNotSupported(
                f"{ticket.marketplace} does not let a ticket be closed from KeyBuzz: "
                "close it on the marketplace"
            )
        try:
            await ports.marketplaces.close_thread(Shop(tenant_id, ticket.marketplace), part, thread)
        except ShopKeyRefused as exc:  # the seller's to mend, not an outage
            refused = remote_excerpt(str(exc), 500)
        else:
            await unit.store.mark_closed(tenant_id, ticket_id)
            return
    await ports.key_refused(tenant_id, ticket.marketplace, refused)  # after the ticket's hold
    raise CloseRefused(f"{ticket.marketplace} refused the shop's key: connect the shop again")

"""What each refusal of the orders use cases is in HTTP (``app.py``) and in NATS replies
(``micro.py``): one table per family of use cases, read by both."""

from __future__ import annotations

from keybuzz_shared.http import ErrorStatuses, status_for
from keybuzz_shared.micro import OperatorError
from keybuzz_shared.pages import InvalidCursor

from keybuzz_orders.backfill.jobs import InvalidDays
from keybuzz_orders.connector_source import ShopKeyRefused
from keybuzz_orders.domain import InvalidOrderId, OrderNotFound
from keybuzz_orders.messaging import InvalidMessage
from keybuzz_orders.order_source import NoSource, order_feed
from keybuzz_orders.queries import InvalidJobId, InvalidMarketplace, InvalidSearch, JobNotFound
from keybuzz_orders.sync import NoSyncCursor

# Reading orders and jobs, starting backfills and syncs.
ERROR_STATUSES: ErrorStatuses = {
    InvalidDays: 400,
    InvalidCursor: 400,
    InvalidSearch: 400,
    InvalidMarketplace: 400,
    InvalidOrderId: 400,
    InvalidJobId: 400,
    OrderNotFound: 404,
    JobNotFound: 404,
    NoSyncCursor: 404,
    NoSource: 400,  # no order source serves that marketplace
    ShopKeyRefused: 409,  # no key stored for that shop: connect the shop first
    **order_feed().error_statuses,  # e.g. the seller not connected
}

# Messaging actions: the order's own refusals, then ours of the tenant's access.
MESSAGING_ERROR_STATUSES: ErrorStatuses = {
    InvalidOrderId: 400,
    InvalidMessage: 400,
    OrderNotFound: 404,
    **order_feed().messaging_error_statuses,
}

# The marketplace's refusals of a messaging action: its code and message go to the
# caller (``OrderFeed.refusal``).
REFUSAL_STATUSES: ErrorStatuses = dict(order_feed().refusal_statuses)


def operator_error(exc: Exception, statuses: ErrorStatuses = ERROR_STATUSES) -> OperatorError:
    """A refusal as a NATS reply: its message, and its HTTP status as the error code."""
    return OperatorError(str(exc), str(status_for(exc, statuses)))

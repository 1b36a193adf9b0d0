"""What each refusal of the orders use cases is in HTTP (``app.py``) and in NATS replies
(``micro.py``): one table per family of use cases, read by both."""

from __future__ import annotations

from keybuzz_shared.connectors.amazon import (
    CredentialsMissing,
    LwaError,
    ReauthRequired,
    SpApiAccessDenied,
    SpApiInvalidInput,
    SpApiNotFound,
)
from keybuzz_shared.connectors.amazon.messaging import MessagingActionNotAllowed
from keybuzz_shared.connectors.amazon.spapi import SpApiOutcomeUnknown
from keybuzz_shared.http import ErrorStatuses, status_for
from keybuzz_shared.micro import OperatorError
from keybuzz_shared.pages import InvalidCursor

from keybuzz_orders.backfill.jobs import InvalidDays
from keybuzz_orders.connector_source import ShopKeyRefused
from keybuzz_orders.domain import InvalidOrderId, OrderNotFound
from keybuzz_orders.messaging import InvalidMessage
from keybuzz_orders.order_source import NoSource
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
    # Not connected (or the credentials are gone from Vault): connect Amazon first.
    CredentialsMissing: 409,
    ShopKeyRefused: 409,  # no key stored for that Fnac/Darty shop: connect the shop first
}

# Messaging actions: the order's own refusals, then ours of the tenant's access.
MESSAGING_ERROR_STATUSES: ErrorStatuses = {
    InvalidOrderId: 400,
    InvalidMessage: 400,
    OrderNotFound: 404,
    CredentialsMissing: 409,
    ReauthRequired: 409,  # the seller revoked us: connect Amazon again
    LwaError: 502,
}

# Amazon's refusals of a messaging action: Amazon's code and message go to the caller.
AMAZON_REFUSAL_STATUSES: ErrorStatuses = {
    MessagingActionNotAllowed: 409,  # the order's state does not allow it (now)
    SpApiInvalidInput: 400,  # e.g. text Amazon does not accept
    SpApiNotFound: 404,  # Amazon does not know the order for this seller
    SpApiAccessDenied: 502,  # our access (role, token) is refused: not the caller's fault
    SpApiOutcomeUnknown: 502,  # sent, answer lost: not repeated (no duplicate message)
}


def operator_error(exc: Exception, statuses: ErrorStatuses = ERROR_STATUSES) -> OperatorError:
    """A refusal as a NATS reply: its message, and its HTTP status as the error code."""
    return OperatorError(str(exc), str(status_for(exc, statuses)))

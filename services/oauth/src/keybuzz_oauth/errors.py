"""What the oauth use cases refuse, in domain terms, and what each refusal means in HTTP.

The use cases raise these errors and know nothing of status codes; the maps at
the end (``ERROR_STATUSES``, ``CALLBACK_STATUSES``) are the one place that says
which status each one gets, applied by ``app.py`` (``keybuzz_shared.http.
domain_error_handlers``).

A callback failure carries a ``Failure`` kind rather than a status code: the
caller's input, the marketplace, or one of our own dependencies being unavailable.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type alias only: this module stays free of the HTTP framework
    from keybuzz_shared.http import ErrorStatuses


class Failure(StrEnum):
    REFUSED = "refused"  # the request (or the seller's consent) cannot succeed as it is
    UPSTREAM = "upstream"  # the marketplace failed or refused
    UNAVAILABLE = "unavailable"  # Vault or the app configuration: nothing changed, retry


class OauthError(Exception):
    """Base of the oauth domain errors; ``message`` is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMarketplace(OauthError):
    """The request names a marketplace (or a site of one) that is not there."""


class MarketplaceNotServed(InvalidMarketplace):
    """No connector serves the marketplace now, or oauth makes no connection of it the way
    the request asks (a redirect marketplace at a credential form's path)."""


class ConnectionKept(OauthError):
    """The connection's marketplace is not served now: the connection and its credentials
    are kept as they are until it is served again."""


class InvalidCredentials(OauthError):
    """What the seller typed breaks a rule of the marketplace's form (its connector's
    ``credential_fields``); the message names the field and the rule, never the value."""


class MarketplaceNotConfigured(OauthError):
    """Our app's credentials with the marketplace are missing from Vault, or Vault cannot
    be read."""


class NotConnected(OauthError):
    """The tenant has no connection of that marketplace."""


class CredentialsUnavailable(OauthError):
    """Vault refused or failed the change of a tenant's credentials; nothing changed."""


class ShopCredentialsRefused(OauthError):
    """The marketplace refused the credentials typed: nothing was stored."""


class ShopAlreadyConnected(OauthError):
    """The shop is connected to another tenant (which is not named)."""


class MarketplaceUnavailable(OauthError):
    """The marketplace did not answer the check: nothing was stored, retry after a while."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MarketplaceError(OauthError):
    """The marketplace answered the check with something other than a yes or a no."""


class CallbackFailure(OauthError):
    """The callback cannot connect; ``reason`` goes to the frontend, ``message`` to the user."""

    def __init__(self, reason: str, message: str, failure: Failure = Failure.REFUSED) -> None:
        super().__init__(message)
        self.reason = reason
        self.failure = failure


# What each refusal of the use cases means in HTTP (the body is the error's message).
ERROR_STATUSES: ErrorStatuses = {
    InvalidMarketplace: 400,
    InvalidCredentials: 400,
    NotConnected: 404,
    MarketplaceNotServed: 404,
    ConnectionKept: 409,
    ShopAlreadyConnected: 409,
    ShopCredentialsRefused: 422,
    MarketplaceError: 502,
    MarketplaceNotConfigured: 503,
    CredentialsUnavailable: 503,
    MarketplaceUnavailable: 503,  # with Retry-After (app.py)
}
# The callback answers a redirect (or JSON) with the status of its failure's kind.
CALLBACK_STATUSES: dict[Failure, int] = {
    Failure.REFUSED: 400,
    Failure.UPSTREAM: 502,
    Failure.UNAVAILABLE: 503,
}

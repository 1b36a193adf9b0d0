"""What the oauth use cases refuse, in domain terms; ``app.py`` turns them into HTTP
(``ERROR_STATUSES``, through ``keybuzz_shared.http.domain_error_handlers``).

A callback failure carries a ``Failure`` kind rather than a status code: the
caller's input, Amazon, or one of our own dependencies being unavailable.
"""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    REFUSED = "refused"  # the request (or the seller's consent) cannot succeed as it is
    UPSTREAM = "upstream"  # Amazon failed or refused
    UNAVAILABLE = "unavailable"  # Vault or the app configuration: nothing changed, retry


class OauthError(Exception):
    """Base of the oauth domain errors; ``message`` is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMarketplace(OauthError):
    """The start request names a marketplace Amazon does not have."""


class AmazonNotConfigured(OauthError):
    """The LWA app credentials are missing from Vault, or Vault cannot be read."""


class NotConnected(OauthError):
    """The tenant never started an Amazon connection."""


class CredentialsUnavailable(OauthError):
    """Vault refused or failed the change of a tenant's credentials; nothing changed."""


class CallbackFailure(OauthError):
    """The callback cannot connect; ``reason`` goes to the frontend, ``message`` to the user."""

    def __init__(self, reason: str, message: str, failure: Failure = Failure.REFUSED) -> None:
        super().__init__(message)
        self.reason = reason
        self.failure = failure

"""What a call to Back Market's seller API can fail with: the seam's outcomes, each naming
the call and Back Market's status, never the shop's token (docs/BACKMARKET.md, "Failure
modes")."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    ConnectorError,
    CredentialsRefused,
)


class BackMarketError(ConnectorError):
    """Base of every Back Market failure."""


class BackMarketCredentialsRefused(BackMarketError, CredentialsRefused):
    """Back Market answered 401: the token is wrong or was revoked in the back office."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Back Market refused the shop's token: {detail}")
        self.detail = detail


class BackMarketUnavailable(BackMarketError, CallUnavailable):
    """Unreachable, timeouts, 5xx, 429, or the web application firewall's 403 challenge:
    the same call will work later (after ``retry_after`` seconds when known)."""

    label = "Back Market"


class BackMarketRequestRefused(BackMarketError, CallRefused):
    """Back Market refused this call (``status``: 400, 403 outside the firewall, 404):
    the same call would be refused again."""

    label = "Back Market"


class BackMarketAnswerUnreadable(BackMarketError, CallAnswerUnreadable):
    """Not JSON, truncated, too large or off its shape."""

    label = "Back Market"


class BackMarketOutcomeUnknown(BackMarketError, CallOutcomeUnknown):
    """A message posted lost its answer after it left: Back Market may have stored it
    (its POSTs take no idempotency key), so it was not sent again."""

    label = "Back Market"

"""What a call to Back Market's seller API can fail with: the seam's outcomes, each naming
the call and Back Market's status, never the shop's token (docs/BACKMARKET.md, "Failure
modes")."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    ConnectorError,
    CredentialsRefused,
    MarketplaceUnavailable,
    OutcomeUnknown,
    RequestRefused,
)


class BackMarketError(ConnectorError):
    """Base of every Back Market failure."""


class BackMarketCredentialsRefused(BackMarketError, CredentialsRefused):
    """Back Market answered 401: the token is wrong or was revoked in the back office."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Back Market refused the shop's token: {detail}")
        self.detail = detail


class BackMarketUnavailable(BackMarketError, MarketplaceUnavailable):
    """Unreachable, timeouts, 5xx, 429, or the web application firewall's 403 challenge:
    the same call will work later (after ``retry_after`` seconds when known)."""

    def __init__(self, call: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"Back Market {call} unavailable: {reason}")
        self.call = call
        self.reason = reason
        self.retry_after = retry_after


class BackMarketRequestRefused(BackMarketError, RequestRefused):
    """Back Market refused this call (``status``: 400, 403 outside the firewall, 404):
    the same call would be refused again."""

    def __init__(self, call: str, status: int, detail: str) -> None:
        super().__init__(f"Back Market {call} answered HTTP {status}: {detail}")
        self.call = call
        self.status = status
        self.detail = detail


class BackMarketAnswerUnreadable(BackMarketError, AnswerUnreadable):
    """Not JSON, truncated, too large or off its shape."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(f"unreadable Back Market answer to {call}: {reason}")
        self.call = call
        self.reason = reason


class BackMarketOutcomeUnknown(BackMarketError, OutcomeUnknown):
    """A message posted lost its answer after it left: Back Market may have stored it
    (its POSTs take no idempotency key), so it was not sent again."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(
            f"Back Market {call}: the answer was lost ({reason}); Back Market may have "
            "processed it, so it was not sent again"
        )
        self.call = call
        self.reason = reason

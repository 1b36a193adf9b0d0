"""What a call to Octopia's seller API can fail with: the seam's outcomes, each naming the
call and Octopia's status and reason, never the client secret or the token
(docs/CDISCOUNT.md, "Failure modes")."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    ConnectorError,
    CredentialsRefused,
    MarketplaceUnavailable,
    OutcomeUnknown,
    RequestRefused,
)


class OctopiaError(ConnectorError):
    """Base of every Cdiscount (Octopia) failure."""


class OctopiaCredentialsRefused(OctopiaError, CredentialsRefused):
    """The token endpoint refused the client id/secret (wrong, or regenerated in the seller
    portal), or the API refused the seller id to a token just granted."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Octopia refused the shop's credentials: {detail}")
        self.detail = detail


class OctopiaUnavailable(OctopiaError, MarketplaceUnavailable):
    """Unreachable, timeouts, 5xx, 429, until the retries or the call's deadline ran out:
    the same call will work later (after ``retry_after`` seconds when Octopia said so)."""

    def __init__(self, call: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"Octopia {call} unavailable: {reason}")
        self.call = call
        self.reason = reason
        self.retry_after = retry_after


class OctopiaRequestRefused(OctopiaError, RequestRefused):
    """Octopia answered this call with a 4xx of its own (``status``) and why (``detail``,
    from its problem document): the same call would be refused again."""

    def __init__(self, call: str, status: int, detail: str) -> None:
        super().__init__(f"Octopia {call} answered HTTP {status}: {detail}")
        self.call = call
        self.status = status
        self.detail = detail


class OctopiaAnswerUnreadable(OctopiaError, AnswerUnreadable):
    """The answer is not one we read: not JSON, truncated, too large, off its shape, or a
    next page elsewhere than Octopia's API."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(f"unreadable Octopia answer to {call}: {reason}")
        self.call = call
        self.reason = reason


class OctopiaOutcomeUnknown(OctopiaError, OutcomeUnknown):
    """A call that sends something lost its answer after it left: Octopia may have acted
    on it, so it was not sent again."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(
            f"Octopia {call}: the answer was lost ({reason}); Octopia may have processed it, "
            "so it was not sent again"
        )
        self.call = call
        self.reason = reason

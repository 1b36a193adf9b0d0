"""What a call to Octopia's seller API can fail with: the seam's outcomes, each naming the
call and Octopia's status and reason, never the client secret or the token
(docs/CDISCOUNT.md, "Failure modes")."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    ConnectorError,
    CredentialsRefused,
)


class OctopiaError(ConnectorError):
    """Base of every Cdiscount (Octopia) failure."""


class OctopiaCredentialsRefused(OctopiaError, CredentialsRefused):
    """The token endpoint refused the client id/secret (wrong, or regenerated in the seller
    portal), or the API refused the seller id to a token just granted."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Octopia refused the shop's credentials: {detail}")
        self.detail = detail


class OctopiaUnavailable(OctopiaError, CallUnavailable):
    """Unreachable, timeouts, 5xx, 429, until the retries or the call's deadline ran out:
    the same call will work later (after ``retry_after`` seconds when Octopia said so)."""

    label = "Octopia"


class OctopiaRequestRefused(OctopiaError, CallRefused):
    """Octopia answered this call with a 4xx of its own (``status``) and why (``detail``,
    from its problem document): the same call would be refused again."""

    label = "Octopia"


class OctopiaAnswerUnreadable(OctopiaError, CallAnswerUnreadable):
    """The answer is not one we read: not JSON, truncated, too large, off its shape, or a
    next page elsewhere than Octopia's API."""

    label = "Octopia"


class OctopiaOutcomeUnknown(OctopiaError, CallOutcomeUnknown):
    """A call that sends something lost its answer after it left: Octopia may have acted
    on it, so it was not sent again."""

    label = "Octopia"

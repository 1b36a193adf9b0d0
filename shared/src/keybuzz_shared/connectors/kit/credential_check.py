"""A shop's credential check, declared: the connector names its settings view and one
probe (a call as the shop, with the check's short deadline and few attempts) that answers
the shop's identity; the probe compares the accounts the marketplace's answer names with
the one the seller typed (``own_account``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

import httpx

from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit.connector import settings_view
from keybuzz_shared.connectors.kit.requester import CallErrors
from keybuzz_shared.connectors.seam import CredentialField, ShopApiSettings
from keybuzz_shared.json_calls import CallOptions, check_options

S = TypeVar("S", bound=ShopApiSettings)

# The shop's credentials, the HTTP client, the connector's settings view and the check's
# call options → the shop's identity; CredentialsRefused when the marketplace refuses them.
Probe = Callable[[Mapping[str, str], httpx.AsyncClient, S, CallOptions], Awaitable[str]]


class ProbeCheck(Generic[S]):
    """The seam's ``CredentialCheck`` of a connector: its settings view (``view``, a
    TypeError naming ``marketplace`` for another), then its ``probe``."""

    def __init__(self, view: type[S], marketplace: str, probe: Probe[S]) -> None:
        self._view = view
        self._marketplace = marketplace
        self._probe = probe

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        api = settings_view(settings, self._view, self._marketplace)
        return await self._probe(credentials, http, api, check_options(api.call_deadline_seconds))


def own_account(
    fields: Sequence[CredentialField],
    typed: str,
    named: Iterable[str | int],
    errors: CallErrors,
    *,
    refusal: str = "these credentials are not seller {account}'s",
) -> str:
    """The typed account in its canonical form, when every account the marketplace's answer
    names (``named``: as it writes them) is that one (an answer naming none: the typed
    one); ``errors.credentials_refused`` with ``refusal`` (``{account}``: the typed one)
    otherwise."""
    own = canonical_account(fields, typed)
    if {canonical_account(fields, str(n)) for n in named} - {own}:
        raise errors.credentials_refused(refusal.format(account=own))
    return own

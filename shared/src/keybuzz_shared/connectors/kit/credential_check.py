"""A shop's credential check, declared: the connector names its settings view, the
function that opens a shop's client (``ClientOf``, its sessions' too) and one probe (a
call as the shop, with the check's short deadline and few attempts) that answers the
shop's identity; the probe compares the accounts the marketplace's answer names with
the one the seller typed (``own_account``).

A connector whose API has instances given as data (a catalogue) names its platform
(``instance``): its probe then answers the shop's id alone, and the identity is made here,
``<platform>@<instance>:<shop id>`` with the instance its base URL's host
(``catalogue.instance_of``), so that no catalogue entry's name or spelling of an address
makes one shop two."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

import httpx

from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit.catalogue import instance_of
from keybuzz_shared.connectors.kit.connector import settings_view
from keybuzz_shared.connectors.kit.requester import CallErrors
from keybuzz_shared.connectors.seam import CredentialField, ShopApiSettings
from keybuzz_shared.file_links import NO_FILES, FileLinks
from keybuzz_shared.json_calls import CallOptions, check_options

S = TypeVar("S", bound=ShopApiSettings)
C = TypeVar("C")


# A shop's client on the connector's settings view, its files from the file links, its
# calls on the call options; ValueError when a credential field is missing. The one a
# session and the credential check both open.
ClientOf = Callable[[Mapping[str, str], httpx.AsyncClient, S, FileLinks, CallOptions], C]


# The shop's client and credentials → the shop's identity, from one call as the shop;
# CredentialsRefused when the marketplace refuses them.
Probe = Callable[[C, Mapping[str, str]], Awaitable[str]]


def shop_options(api: ShopApiSettings) -> CallOptions:
    """A session's CallOptions: each call within the shop's call deadline."""
    return CallOptions(call_deadline=api.call_deadline_seconds)


def instance_identity(platform: str, base_url: str, account: str) -> str:
    """A shop's identity on one instance of ``platform``'s API: the instance its base URL
    reaches and the shop's id (``"<platform>@<instance's host>:<shop id>"``)."""
    return f"{platform}@{instance_of(base_url)}:{account}"


class ProbeCheck(Generic[S, C]):
    """The seam's ``CredentialCheck`` of a connector: its settings view (``view``, a
    TypeError naming ``marketplace`` for another), its ``client`` opened with a check's
    options (``check_options``: a short deadline, two attempts), then its ``probe``, whose
    answer is the shop's identity."""

    def __init__(
        self, view: type[S], marketplace: str, client: ClientOf[S, C], probe: Probe[C]
    ) -> None:
        self._view = view
        self._marketplace = marketplace
        self._client = client
        self._probe = probe

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        api = settings_view(settings, self._view, self._marketplace)
        options = check_options(api.call_deadline_seconds)
        answered = await self._probe(
            self._client(credentials, http, api, NO_FILES, options), credentials
        )
        return self._identity(api, answered)

    def _identity(self, api: S, answered: str) -> str:
        return answered


class InstanceProbeCheck(ProbeCheck[S, C]):
    """A ``ProbeCheck`` of a platform whose instances are data (``instance``: its name):
    the probe answers the shop's id, and the identity is its instance's (the seam's
    ``InstanceIdentity``)."""

    def __init__(
        self,
        view: type[S],
        marketplace: str,
        client: ClientOf[S, C],
        probe: Probe[C],
        *,
        instance: str,
    ) -> None:
        super().__init__(view, marketplace, client, probe)
        self.instance = instance

    def _identity(self, api: S, answered: str) -> str:
        return self.identity_on(api, answered)

    def identity_on(self, settings: ShopApiSettings, account: str) -> str:
        """The identity of shop ``account`` on the instance ``settings`` name."""
        return instance_identity(self.instance, settings.api_url, account)


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

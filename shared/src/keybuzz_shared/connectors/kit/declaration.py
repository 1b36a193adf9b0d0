"""A shop-API connector family is one frozen ``Declaration`` and ``shop_api_connector``
the one function that turns it into the seam's connector. The declaration says what its
marketplace is and the three functions it writes on one client, ``client`` (its client,
``client_from``), ``parts`` (its inbox, replies and orders on that client) and ``probe``
(one call as the shop, answering its identity), with the parts of the seam it has beyond.
The kit makes the rest from them: the ``ShopApi`` (``KitShopApi`` on ``opener(client,
parts)``, a ``ReplyGate`` where a gate is declared) and the credential check
(``ProbeCheck``), both opening the one client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from keybuzz_shared.connectors.kit.connector import Discussions, ShopConnector, kit_shop_api
from keybuzz_shared.connectors.kit.credential_check import (
    ClientOf,
    InstanceProbeCheck,
    Probe,
    ProbeCheck,
)
from keybuzz_shared.connectors.kit.sessions import Parts, opener
from keybuzz_shared.connectors.seam import (
    CredentialCheck,
    CredentialField,
    InboundAddresses,
    Limits,
    MailRelay,
    OrderIds,
    RedirectFlow,
    ResponseFigures,
    ResponseWindow,
    ShopApiSettings,
)
from keybuzz_shared.settings import PartSettings

S = TypeVar("S", bound=ShopApiSettings)
C = TypeVar("C")


@dataclass(frozen=True)
class ShopApiCalls(Generic[S, C]):
    """How a shop's client is opened and used: its settings ``view``, ``client``,
    ``parts`` and ``probe``; ``label``, the marketplace as a wrong view's TypeError names
    it; ``instance``, the platform, when its API's instances are data (``ProbeCheck``)."""

    view: type[S]
    client: ClientOf[S, C]
    parts: Parts[C, S]
    probe: Probe[C] | None
    label: str
    instance: str | None = None


@dataclass(frozen=True)
class Marketplace:
    """What a seller is shown of a marketplace: its value, its display name, the name of
    a shop's secret under its tenant in Vault, the fields the seller types and the
    marketplace's limits."""

    marketplace: str
    display_name: str
    secret: str
    credential_fields: tuple[CredentialField, ...]
    limits: Limits


@dataclass(frozen=True)
class Declaration(Generic[S, C]):
    """A connector family's one declaration, all ``shop_api_connector`` turns into the
    seam's connector: ``identity`` (its value, name, Vault secret, credential form and
    limits); ``calls`` (its authentication and answers on one client, its inbox, replies
    and orders on it, its identity probe); ``settings``; ``discussions`` (whom a reply goes
    to, its gate, what a reply carries); ``order_ids``. A part its marketplace lacks is
    absent (None): ``response_window``, ``response_figures`` (its own rule and figure),
    ``mail_relay`` and ``inbound_addresses`` (buyers' mails through its relay, its shop API
    then serving orders and the credential check only), ``redirect_flow`` (a seller who
    consents on the marketplace's site rather than typing credentials: no probe)."""

    identity: Marketplace
    calls: ShopApiCalls[S, C]
    settings: type[PartSettings]
    discussions: Discussions
    order_ids: OrderIds
    response_window: ResponseWindow | None = None
    response_figures: ResponseFigures | None = None
    mail_relay: MailRelay | None = None
    inbound_addresses: InboundAddresses | None = None
    redirect_flow: RedirectFlow | None = None


def _credential_check(calls: ShopApiCalls[S, C]) -> CredentialCheck | None:
    """The check of typed credentials by the declared probe (none without one)."""
    if calls.probe is None:
        return None
    if calls.instance is None:
        return ProbeCheck(calls.view, calls.label, calls.client, calls.probe)
    return InstanceProbeCheck(
        calls.view, calls.label, calls.client, calls.probe, instance=calls.instance
    )


def shop_api_connector(declared: Declaration[S, C]) -> ShopConnector:
    """The seam's connector of ``declared``: its shop API (a ``ReplyGate`` where its
    discussions declare a gate) and its credential check both open its one client."""
    identity, calls = declared.identity, declared.calls
    limits, open_session = identity.limits, opener(calls.client, calls.parts)
    return ShopConnector(
        marketplace=identity.marketplace,
        display_name=identity.display_name,
        secret=identity.secret,
        credential_fields=identity.credential_fields,
        limits=limits,
        settings_type=declared.settings,
        shop_api=kit_shop_api(
            limits, declared.discussions, calls.view, open_session, marketplace=calls.label
        ),
        credential_check=_credential_check(calls),
        order_ids=declared.order_ids,
        response_window=declared.response_window,
        response_figures=declared.response_figures,
        mail_relay=declared.mail_relay,
        inbound_addresses=declared.inbound_addresses,
        redirect_flow=declared.redirect_flow,
    )

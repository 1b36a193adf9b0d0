"""A shop-API connector declared in one call: what its marketplace is and the three
functions it writes on one client, ``client`` (its client, ``client_from``), ``parts``
(its inbox, replies and orders on that client) and ``probe`` (one call as the shop,
answering its identity). The kit makes the rest of the seam from them: the ``ShopApi``
(``KitShopApi`` on ``opener(client, parts)``) and the credential check (``ProbeCheck``),
both opening the one client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from keybuzz_shared.connectors.kit.connector import Discussions, KitShopApi, ShopConnector
from keybuzz_shared.connectors.kit.credential_check import (
    ClientOf,
    InstanceProbeCheck,
    Probe,
    ProbeCheck,
)
from keybuzz_shared.connectors.kit.sessions import Parts, opener
from keybuzz_shared.connectors.seam import (
    CredentialField,
    Limits,
    OrderIds,
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
    probe: Probe[C]
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


def shop_api_connector(
    declared: Marketplace,
    calls: ShopApiCalls[S, C],
    settings_type: type[PartSettings],
    discussions: Discussions,
    order_ids: OrderIds,
    *,
    response_window: ResponseWindow | None = None,
    response_figures: ResponseFigures | None = None,
) -> ShopConnector:
    """The connector of ``declared``, its shops opened by ``calls``, its settings read as
    ``settings_type``, its replies in ``discussions``, its order ids ``order_ids``;
    ``response_window``, ``response_figures``: the parts it has beyond."""
    limits, open_session = declared.limits, opener(calls.client, calls.parts)
    return ShopConnector(
        marketplace=declared.marketplace,
        display_name=declared.display_name,
        secret=declared.secret,
        credential_fields=declared.credential_fields,
        limits=limits,
        settings_type=settings_type,
        shop_api=KitShopApi(limits, discussions, calls.view, open_session, marketplace=calls.label),
        credential_check=(
            ProbeCheck(calls.view, calls.label, calls.client, calls.probe)
            if calls.instance is None
            else InstanceProbeCheck(
                calls.view, calls.label, calls.client, calls.probe, instance=calls.instance
            )
        ),
        order_ids=order_ids,
        response_window=response_window,
        response_figures=response_figures,
    )

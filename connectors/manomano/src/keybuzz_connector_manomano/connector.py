"""The ManoMano connector declared for the kit (docs/MANOMANO.md): a mail relay (``relay.py``)
and its inbound addresses, and a partner API that serves orders only (ManoMano has no
messaging API: nothing polls its inbox nor replies through it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import ShopApiSettings

from keybuzz_connector_manomano.orders import orders_at, seller_orders
from keybuzz_connector_manomano.relay import LIMITS, ORDER_IDS, ManoManoRelay
from keybuzz_connector_manomano.settings import MANOMANO, ManoManoSettings

NAME = "ManoMano"
CREDENTIAL_FIELDS = (
    kit.key_field("api_key", "Partner API key", max_length=256),
    kit.shop_number_field("seller_contract_id", "Seller contract ID"),
)
ERRORS = kit.CallErrors.labelled(NAME, credentials="partner API key")
# A key ManoMano does not know (401), or one that is not the contract's seller's (403)
# [assumed: the SDKs show no error answer]: the credentials refused.
SPEC = kit.ApiSpec(
    NAME,
    logging.getLogger(__name__),
    ERRORS,
    kit.Refusals(credentials=frozenset({401, 403}), reason_keys=("message",)),
)


def client_of(shop: kit.Declaration.Opening[ShopApiSettings]) -> kit.Requester:
    """The seller's client: its key in ``x-api-key``, its contract id in every query."""
    key = shop.credentials["api_key"]
    ids = {"seller_contract_id": str(int(shop.credentials["seller_contract_id"]))}
    headers = {"x-api-key": key}
    auth = kit.HeaderAuth(headers, secret_headers=tuple(headers), params=ids, secrets=(key,))
    return kit.Requester(SPEC, auth, shop.http, shop.api.api_url, shop=ids, **shop.options)


async def probe(client: kit.Requester, credentials: Mapping[str, str]) -> str:
    """One page of one order: the key answers for the contract typed (ManoMano refuses a
    contract that is not the key's seller's [assumed]); an order naming another contract
    refuses the credentials."""
    listed, _ = await orders_at(client, {"page": "1", "limit": "1"}, None, "verify")
    named = kit.named_in(listed, "seller_contract_id", (int,))
    return kit.own_account(
        CREDENTIAL_FIELDS,
        credentials["seller_contract_id"],
        named,
        ERRORS,
        refusal="the partner API key is not seller contract {account}'s",
    )


def session_of(client: kit.Requester, api: ShopApiSettings | None = None) -> kit.KitSession:
    return kit.KitSession(orders=seller_orders(client))


RELAY = ManoManoRelay(LIMITS)
CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        MANOMANO,
        NAME,
        CREDENTIAL_FIELDS,
        LIMITS,
        client=client_of,
        parts=session_of,
        probe=probe,
        settings=ManoManoSettings,
        order_ids=ORDER_IDS,
        discussions=kit.Declaration.Discussions(
            ("BUYER",), support_sender=NAME, claim_subject="Litige ManoMano"
        ),
        mail_relay=RELAY,
        inbound_addresses=RELAY,
    )
)

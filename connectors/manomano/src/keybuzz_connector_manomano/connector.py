"""The ManoMano connector: the seam on ManoMano's mail relay and partner API
(docs/MANOMANO.md), declared for the kit.

Its parts: a mail relay (buyers' mails, replies by mail; ``relay.py``), inbound
addresses (an address per tenant, set as the seller's contact address in ManoMano's
Toolbox or forwarded to), a shop API that serves orders only (ManoMano has no messaging
API: ``seam.messages_by_api`` is False, so nothing polls its inbox nor replies through it)
and a credential check. The seller types its partner API key and seller contract id; the
key is sent as ``x-api-key`` [observed: exewen/manomano-php-sdk ``AuthMiddleware``], the
contract id with every call [observed: its test's ``seller_contract_id``]. ManoMano
publishes no response-time rule to sellers' tools: the poller's default window, or the
tenant's."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import ShopApiSettings

from keybuzz_connector_manomano.orders import ORDERS_PATH, orders_at, seller_orders
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
    contract = str(int(shop.credentials["seller_contract_id"]))
    auth = kit.HeaderAuth(
        {"x-api-key": key},
        secret_headers=("x-api-key",),
        params={"seller_contract_id": contract},
        secrets=(key,),
    )
    return kit.Requester(
        SPEC,
        auth,
        shop.http,
        shop.api.api_url,
        shop={"seller_contract_id": contract},
        **shop.options,
    )


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
    """Orders only: ManoMano's buyers write by mail (its relay), so the session declares no
    inbox and no replies."""
    verify = lambda: client.get_json(ORDERS_PATH, {"page": "1", "limit": "1"})  # noqa: E731
    return kit.KitSession(orders=seller_orders(client), verify=verify)


# A shop connector with ManoMano's relay, which makes its inbound addresses, beside its
# partner API.
RELAY = ManoManoRelay(LIMITS)
CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        # Its secret: the partner API key and the seller contract id.
        MANOMANO,
        NAME,
        "manomano_api",
        CREDENTIAL_FIELDS,
        LIMITS,
        view=ShopApiSettings,
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

"""One Mirakl operator as a marketplace, declared for the kit (docs/MIRAKL.md). A call is
named by Mirakl's operation code (M11, OR11 …): a 429's ``Retry-After`` holds back every
later call of that operation from the shop's client ("Calls and how often")."""

from __future__ import annotations

import functools
import logging
import math
from typing import Annotated, ClassVar, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.connector_settings import ShopApiSettings
from keybuzz_shared.connectors.kit import Redacted, credentials_as
from keybuzz_shared.connectors.seam import CallRefused, Connector
from keybuzz_shared.file_links import origin_of, shown
from keybuzz_shared.settings import AtLeastOne

from keybuzz_connector_mirakl.catalogue import CATALOGUE_ENV, CATALOGUE_FILE_ENV, Operator, operator
from keybuzz_connector_mirakl.orders import shop_orders
from keybuzz_connector_mirakl.response_window import KEPT_SECONDS, response_delays, response_window
from keybuzz_connector_mirakl.threads import (
    LIMITS,
    PARTICIPANTS,
    THREADS,
    thread_inbox,
    thread_replies,
)

log = logging.getLogger(__name__)

# Any answer is refused past this size, unread: the largest we ask for is a page of 100
# threads with their last 100 messages each (bodies up to 50,000 characters).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
NO_THREAD = "00000000-0000-0000-0000-000000000000"  # Mirakl's thread ids are UUIDs


@functools.cache
def spec_for(operator: str) -> kit.ApiSpec:
    """Mirakl's API, its errors naming ``operator``; a 4xx says ``{"message", "status"}``."""
    return kit.ApiSpec(
        "Mirakl",
        log,
        kit.CallErrors.labelled(f"{operator} (Mirakl)", credentials="API key"),
        kit.Refusals(credentials=frozenset({401, 403}), reason_keys=("message",)),
        max_response_bytes=MAX_RESPONSE_BYTES,
        misaddressed="the operator's base URL is not its API, check the catalogue",
        holds_throttled=True,
    )


class MiraklKey(Redacted, frozen=True, kw_only=True):
    """A shop user's API key (masked in its ``repr``) and the shop it calls for."""

    SECRETS = frozenset({"api_key"})
    api_key: str
    shop_id: str


def shop_client(
    key: MiraklKey,
    http: httpx.AsyncClient,
    base_url: str,
    *,
    operator: str,
    **options: Unpack[kit.Requester.Options],
) -> kit.Requester:
    auth = kit.HeaderAuth(
        {"Authorization": key.api_key}, params={"shop_id": key.shop_id}, secrets=(key.api_key,)
    )
    shop = {"operator": operator, "shop_id": key.shop_id}
    return kit.Requester(spec_for(operator), auth, http, base_url, shop=shop, **options)


# --- settings (docs/MIRAKL.md, "Settings") ------------------------------------------------


class MiraklApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """One operator's API: ``api_url`` its base URL (calls at ``<api_url>/api/...``)."""

    operator: str  # the operator's code, the marketplace value
    operator_name: str  # as sellers know it: "Leroy Merlin"
    # Seconds between two order listings' first pages (OR11): the operator's frequency,
    # else Mirakl's "once per minute" at most [official].
    orders_interval_seconds: float = 60.0


class MiraklSettings(kit.ShopCallSettings, kw_only=True, frozen=True):
    """Every operator's shops; an operator's address and frequencies are the catalogue's,
    read when its view is asked for (an operator added after start-up has one too)."""

    PREFIX: ClassVar[str] = "mirakl"
    # Mirakl's seller API has no read mark, and a message's files come from its
    # operator's API (M13) only.
    NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset(
        {"mark_as_read", "attachment_origins"}
    )

    # Each shop polled once per interval, unless its operator sets M11's frequency.
    poll_interval_seconds: AtLeastOne = 300
    mark_as_read: bool = False
    # Added to an operator's M11 frequency; none is needed (docs/MIRAKL.md, "Settings").
    mirakl_poll_margin_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    first_poll_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    # The catalogue's overrides (catalogue.py), read here too: a view follows its settings.
    mirakl_catalogue: str = ""
    mirakl_catalogue_file: str = ""

    def shop_api(self, marketplace: str) -> MiraklApiSettings | None:
        environ = {
            CATALOGUE_ENV: self.mirakl_catalogue,
            CATALOGUE_FILE_ENV: self.mirakl_catalogue_file,
        }
        found = operator(marketplace, environ)
        if found is None:
            return None
        # A catalogue entry meant for the dev stack is refused by production-like settings.
        self.check_addresses([(f"Mirakl operator {found.code}: baseUrl", found.base_url)])
        frequency = found.frequencies.get("M11")
        return self.view(
            MiraklApiSettings,
            api_url=found.base_url,
            operator=found.code,
            operator_name=found.name,
            poll_interval_seconds=(
                self.poll_interval_seconds
                if frequency is None
                else max(1, math.ceil(frequency) + self.mirakl_poll_margin_seconds)
            ),
            # M11 answered once per the operator's frequency: no poll of a shop starts
            # sooner after its last one ended, whatever made it due (poller/shops/pacing.py).
            call_frequency_seconds=frequency,
            attachment_origins=(shown(origin_of(found.base_url)),),
            orders_interval_seconds=found.frequencies.get("OR11", 60.0),
        )


# --- credentials: the shop's key and id, checked by one call as that shop ------------------

CREDENTIAL_FIELDS = (
    # The shop's back office, "API key": UUIDs on the instances we know [observed].
    kit.key_field("api_key", "Clé API", max_length=128),
    # The back office's "Shop ID": one key may serve several shops, a connection is one.
    kit.shop_number_field("shop_id", "Shop ID"),
)


def client_of(shop: kit.Declaration.Opening[MiraklApiSettings]) -> kit.Requester:
    key = credentials_as(MiraklKey, CREDENTIAL_FIELDS, shop.credentials, "Mirakl")
    api = shop.api
    return shop_client(key, shop.http, api.api_url, operator=api.operator, **shop.options)


async def check_key(client: kit.Requester, *_typed: object) -> str:
    """M10 on a thread no shop has (M10 spends no frequency-limited call): Mirakl's own 404
    is key and shop good, a 404 without its message another server's (docs/MIRAKL.md,
    "Connecting a shop"). Answers the shop's id, its identity the kit's ``instance``."""
    try:
        await client.get_json(f"{THREADS}/{NO_THREAD}", operation="M10")
    except CallRefused as exc:
        if exc.status != 404:
            raise
        if exc.detail == "HTTP 404":
            raise client.errors.unreadable(
                exc.call, "a 404 that is not Mirakl's: check the base URL"
            ) from None
    return client.shop["shop_id"]


# --- the connector ----------------------------------------------------------------------

# The operator's commercial id and a capital letter per shop of the cart (``Order_00010-A``
# [official]), with a digit: a hyphenated word of a message, "Saint-Denis", is no order id.
ORDER_IDS = kit.OrderIdPattern(
    "[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z]",
    "a Mirakl one (the commercial id, a hyphen and a capital letter: 1234567-A)",
    joined="0-9A-Za-z_-",
)

# A reply goes to the customer, the operator or both, as its thread allows (read at the
# reply: threads.py). Mirakl posts no message of its own when an incident is opened.
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=tuple(PARTICIPANTS), support_sender="OPERATOR", claim_subject="Incident Mirakl"
)


def parts(client: kit.Requester, api: MiraklApiSettings) -> kit.KitSession:
    inbox = thread_inbox(client, operator_name=api.operator_name, page_size=LIMITS.page_size)
    label = f"{api.operator}/{client.shop['shop_id']}"
    return kit.KitSession(
        inbox,
        thread_replies(client, inbox),
        shop_orders(client, label=label, interval=api.orders_interval_seconds),
        verify=lambda: check_key(client),
        figure=response_delays(client).figure,
    )


def connector_of(operator: Operator) -> Connector:
    """The operator's connector; one ``settings_type`` for every operator, so that a
    service started before an operator was added holds it."""
    secret = f"mirakl_{operator.code.lower()}_api"  # the shop's API key and shop id
    return kit.shop_api_connector(
        kit.Declaration(
            operator.code,
            operator.name,
            secret,
            CREDENTIAL_FIELDS,
            LIMITS,
            view=MiraklApiSettings,
            client=client_of,
            parts=parts,
            probe=check_key,
            label="Mirakl",
            instance="mirakl",
            settings=MiraklSettings,
            discussions=DISCUSSIONS,
            order_ids=ORDER_IDS,
            response_window=response_window(operator),
            figures_kept_seconds=KEPT_SECONDS,
        )
    )

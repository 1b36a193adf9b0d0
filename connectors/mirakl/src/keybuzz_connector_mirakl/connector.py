"""One Mirakl operator as a marketplace, declared for the kit (docs/MIRAKL.md); a call is
named by Mirakl's operation code (M11, OR11 …: "Calls and how often")."""

from __future__ import annotations

import logging
import math
from typing import Annotated, ClassVar

import msgspec
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.connector_settings import ShopApiSettings
from keybuzz_shared.connectors.seam import CallRefused, Connector
from keybuzz_shared.file_links import origin_of, shown
from keybuzz_shared.settings import AtLeastOne

from keybuzz_connector_mirakl import threads
from keybuzz_connector_mirakl.catalogue import CATALOGUE, Operator
from keybuzz_connector_mirakl.orders import response_delays, shop_orders

# Any answer is refused past this size, unread: the largest we ask for is a page of 100
# threads with their last 100 messages each (bodies up to 50,000 characters).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
NO_THREAD = "00000000-0000-0000-0000-000000000000"  # Mirakl's thread ids are UUIDs


# --- settings (docs/MIRAKL.md, "Settings") ------------------------------------------------


class MiraklApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    operator: Operator  # its catalogue entry, as read when the view was asked for


class MiraklSettings(kit.ShopCallSettings, kw_only=True, frozen=True):
    """Every operator's shops; an operator's address and frequencies are the catalogue's,
    read when its view is asked for (an operator added after start-up has one too)."""

    PREFIX: ClassVar[str] = "mirakl"
    # Mirakl's seller API has no read mark, and a message's files come from its
    # operator's API (M13) only.
    MARKS_READ = False
    NOT_FROM_ENVIRONMENT = frozenset({"attachment_origins"})

    # Each shop polled once per interval, unless its operator sets M11's frequency.
    poll_interval_seconds: AtLeastOne = 300
    # Added to an operator's M11 frequency; none is needed (docs/MIRAKL.md, "Settings").
    mirakl_poll_margin_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    first_poll_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    # The catalogue's overrides (catalogue.py), read here too: a view follows its settings.
    mirakl_catalogue: str = ""
    mirakl_catalogue_file: str = ""

    def shop_api(self, marketplace: str) -> MiraklApiSettings | None:
        environ = {
            CATALOGUE.inline: self.mirakl_catalogue,
            CATALOGUE.file: self.mirakl_catalogue_file,
        }
        if (found := CATALOGUE.entry(marketplace, environ)) is None:
            return None
        # A catalogue entry meant for the dev stack is refused by production-like settings.
        self.check_addresses([(f"Mirakl operator {found.code}: baseUrl", found.base_url)])
        interval = self.poll_interval_seconds
        if (frequency := found.frequencies.get("M11")) is not None:  # > 0: a second at least
            interval = math.ceil(frequency) + self.mirakl_poll_margin_seconds
        return self.view(
            MiraklApiSettings,
            api_url=found.base_url,
            operator=found,
            poll_interval_seconds=interval,
            # M11 answered once per the operator's frequency: no poll of a shop starts
            # sooner after its last one ended, whatever made it due (poller/shops/pacing.py).
            call_frequency_seconds=frequency,
            attachment_origins=(shown(origin_of(found.base_url)),),
        )


# --- credentials: the shop's key and id, checked by one call as that shop ------------------

CREDENTIAL_FIELDS = (
    # The shop's back office, "API key": UUIDs on the instances we know [observed].
    kit.key_field("api_key", "Clé API", max_length=128),
    # The back office's "Shop ID": one key may serve several shops, a connection is one.
    kit.shop_number_field("shop_id", "Shop ID"),
)


class MiraklKey(kit.Redacted, frozen=True, kw_only=True):
    """A shop user's API key (masked in its ``repr``) and the shop it calls for."""

    SECRETS = frozenset({"api_key"})
    api_key: str
    shop_id: str


def client_of(shop: kit.Declaration.Opening[MiraklApiSettings]) -> kit.Requester:
    """The shop's client, its errors naming its operator (a 4xx says {"message", "status"})."""
    key = kit.credentials_as(MiraklKey, CREDENTIAL_FIELDS, shop.credentials, "Mirakl")
    operator = shop.api.operator.code
    spec = kit.ApiSpec(
        "Mirakl",
        logging.getLogger(__name__),
        kit.CallErrors.labelled(f"{operator} (Mirakl)", credentials="API key"),
        kit.Refusals(credentials=frozenset({401, 403}), reason_keys=("message",)),
        max_response_bytes=MAX_RESPONSE_BYTES,
        misaddressed="the operator's base URL is not its API, check the catalogue",
        holds_throttled=True,
    )
    auth = kit.HeaderAuth(
        {"Authorization": key.api_key}, params={"shop_id": key.shop_id}, secrets=(key.api_key,)
    )
    shop_ids = {"operator": operator, "shop_id": key.shop_id}
    return kit.Requester(spec, auth, shop.http, shop.api.api_url, shop=shop_ids, **shop.options)


async def check_key(client: kit.Requester, *_typed: object) -> str:
    """M10 on a thread no shop has, no frequency-limited call spent (docs/MIRAKL.md,
    "Connecting a shop"); answers the shop's id, its identity the kit's ``instance``."""
    try:
        await client.get_json(f"{threads.THREADS}/{NO_THREAD}", operation="M10")
    except CallRefused as exc:
        if exc.status != 404:
            raise
        if exc.detail == "HTTP 404":
            raise client.errors.unreadable(
                exc.call, "a 404 that is not Mirakl's: check the base URL"
            ) from None
    return client.shop["shop_id"]


# The operator's commercial id and a capital letter per shop of the cart (``Order_00010-A``
# [official]), with a digit: a hyphenated word of a message, "Saint-Denis", is no order id.
ORDER_IDS = kit.OrderIdPattern(
    "[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z]",
    "a Mirakl one (the commercial id, a hyphen and a capital letter: 1234567-A)",
    joined="0-9A-Za-z_-",
)


def parts(client: kit.Requester, api: MiraklApiSettings) -> kit.KitSession:
    inbox = threads.thread_inbox(client, operator_name=api.operator.name)
    return kit.KitSession(
        inbox,
        threads.thread_replies(client, inbox),
        shop_orders(client, interval=api.operator.every("OR11")),
        # A21's figures kept until it may be called again.
        figure=response_delays(client, api.operator.every("A21")).figure,
    )


def connector_of(operator: Operator) -> Connector:
    """The operator's connector; one ``settings_type`` for every operator, so that a
    service started before an operator was added holds it."""
    secret = f"mirakl_{operator.code.lower()}_api"  # the shop's API key and shop id
    # The operator's own rule, on Mirakl's clock of each thread.
    note = f'only {operator.name}\'s staff mark a thread "no reply needed" at Mirakl'
    return kit.shop_api_connector(
        kit.Declaration(
            operator.code,
            operator.name,
            CREDENTIAL_FIELDS,
            threads.LIMITS,
            secret=secret,
            view=MiraklApiSettings,
            client=client_of,
            parts=parts,
            probe=check_key,
            label="Mirakl",
            instance="mirakl",
            settings=MiraklSettings,
            discussions=threads.DISCUSSIONS,
            order_ids=ORDER_IDS,
            response_window=kit.Declaration.OwnRule.hours(operator.response_hours, note),
            figures_kept_seconds=operator.every("A21"),
        )
    )

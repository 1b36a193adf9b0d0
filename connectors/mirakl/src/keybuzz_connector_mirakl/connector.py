"""One Mirakl operator as a marketplace, declared for the kit (docs/MIRAKL.md): a shop API
(threads, orders by OR11), a credential check, the operator's response hours and A21's
figure. The seller types its API key and shop id (no redirect flow); customers write
through the API (no inbound address or mail relay, no order feed). A call is named by
Mirakl's operation code (M11, OR11 …): a 429's ``Retry-After`` holds back every later call
of that operation from the shop's client ("Calls and how often")."""

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
from keybuzz_connector_mirakl.response_window import (
    KEPT_SECONDS,
    response_delays,
    response_window,
)
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
FIRST_POLL_DAYS = 30  # how far back a shop's first poll reads its threads by default


@functools.cache
def spec_for(operator: str) -> kit.ApiSpec:
    """Mirakl's API as the requester runs it, its errors naming ``operator``; Mirakl's
    message for a 4xx is ``{"message", "status"}``."""
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
    """One shop's requester on one operator's API (calls at ``<base_url>/api/...``; a
    call named by its operation code, ``operation="M11"``)."""
    auth = kit.HeaderAuth(
        {"Authorization": key.api_key}, params={"shop_id": key.shop_id}, secrets=(key.api_key,)
    )
    shop = {"operator": operator, "shop_id": key.shop_id}
    return kit.Requester(spec_for(operator), auth, http, base_url, shop=shop, **options)


# --- settings (docs/MIRAKL.md, "Settings") ------------------------------------------------


class MiraklApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """One operator's API as its sessions and credential check are given it: ``api_url``
    is the operator's base URL (calls at ``<api_url>/api/...``)."""

    operator: str  # the operator's code, the marketplace value
    operator_name: str  # as sellers know it: "Leroy Merlin"
    # Seconds between two order listings' first pages (OR11): the operator's frequency,
    # else Mirakl's "once per minute" at most [official].
    orders_interval_seconds: float = 60.0


class MiraklSettings(kit.ShopCallSettings, kw_only=True, frozen=True):
    """Every operator's shops, read from the MIRAKL_ variables; where an operator's API is
    and how often it may be polled are the catalogue's, read when a view is asked for: an
    operator added after a service started gets its view from the settings it holds."""

    PREFIX: ClassVar[str] = "mirakl"
    # Mirakl's seller API has no read mark, and a message's files come from its
    # operator's API (M13) only.
    NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset(
        {"mark_as_read", "attachment_origins"}
    )

    # The kit's settings every shop API has are read from MIRAKL_<NAME> (kit.ShopSettings);
    # each shop is polled once per interval, unless its operator's catalogue entry sets
    # M11's frequency (then that).
    poll_interval_seconds: AtLeastOne = 300
    mark_as_read: bool = False
    # Added to an operator's M11 frequency; none is needed (docs/MIRAKL.md, "Settings").
    mirakl_poll_margin_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    first_poll_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = FIRST_POLL_DAYS
    # The catalogue's overrides (catalogue.py): the variables connectors() reads from the
    # process environment, read here too so that a view follows the settings it is asked of.
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
    # The shop's id (the back office's "Shop ID"): one key may serve several shops, and
    # the connection is one shop of one operator.
    kit.shop_number_field("shop_id", "Shop ID"),
)


def client_of(shop: kit.Declaration.Opening[MiraklApiSettings]) -> kit.Requester:
    """The shop's client on its operator's API, its key and shop as stored (the kit's
    ``credentials_as``: ValueError when one is missing). A thread's files come from the
    operator's API (M13), with the shop's key, at addresses built from Mirakl's ids: no
    file link."""
    key = credentials_as(MiraklKey, CREDENTIAL_FIELDS, shop.credentials, "Mirakl")
    api = shop.api
    return shop_client(key, shop.http, api.api_url, operator=api.operator, **shop.options)


async def check_key(client: kit.Requester, *_typed: object) -> str:
    """M10 on a thread no shop has: Mirakl's own 404 (``{"message", "status"}``) is key and
    shop good, 401 and 403 either refused; M10 has no frequency of its own, where M11 or
    OR11 would spend the call a minute the shop's next poll needs. A 404 without Mirakl's
    message is another server's: the base URL is not the operator's API. Answers the
    shop's id, whose identity is the kit's (``instance``): the operator's instance, its
    API's host, and this id, so that two catalogue entries of one instance (an operator
    renamed or listed twice) reach one shop, and two instances' shops of one id are two."""
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

# Mirakl's order ids: the operator's commercial id and a capital letter per shop of the
# cart, e.g. ``Order_00010-A`` [official, OR11's example] or ``BOU2345000012-A``. The
# commercial id's form is each operator's: letters, digits and underscores, with a digit
# (so that a hyphenated word of a message, "Saint-Denis", is no order id).
ORDER_IDS = kit.OrderIdPattern(
    "[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z]",
    "a Mirakl one (the commercial id, a hyphen and a capital letter: 1234567-A)",
    joined="0-9A-Za-z_-",
)

# A thread's reply goes to the customer, the operator or both; whether the thread allows
# the one asked is read from it at the reply (a FAILED outcome naming its participants
# otherwise). Mirakl lists a reply's text back as sent; its refusals give a message, no
# code of their own. It posts no message of its own when an incident is opened.
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=tuple(PARTICIPANTS), support_sender="OPERATOR", claim_subject="Incident Mirakl"
)


def parts(client: kit.Requester, api: MiraklApiSettings) -> kit.KitSession:
    """One shop's parts on its operator's API, its key checked by ``check_key``, its own
    response figure A21's."""
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
    # A shop's client, its parts, and its credential check: one call as the shop that
    # spends none of its frequency-limited allowance (``check_key``); A21's figure kept
    # as long as its answer is.
    return kit.shop_api_connector(kit.Declaration(
        operator.code, operator.name, secret, CREDENTIAL_FIELDS, LIMITS,
        view=MiraklApiSettings, client=client_of, parts=parts, probe=check_key,
        label="Mirakl", instance="mirakl", settings=MiraklSettings, discussions=DISCUSSIONS,
        order_ids=ORDER_IDS, response_window=response_window(operator),
        figures_kept_seconds=KEPT_SECONDS,
    ))  # fmt: skip

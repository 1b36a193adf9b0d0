"""One Mirakl operator as a marketplace: the seam on its instance of Mirakl's seller API
(docs/MIRAKL.md), declared for the kit. Every operator of the catalogue is one connector.

Its parts: a shop API (threads, and orders by OR11), a credential check, the operator's
hours on Mirakl's own clock of each thread and its own figure (A21). The seller types its
API key (no redirect flow); customers write through the API (no inbound address or mail
relay, no order feed)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.kit import (
    Discussions,
    KitShopApi,
    OrderIdPattern,
    ShopConnector,
)
from keybuzz_shared.connectors.seam import Limits
from keybuzz_shared.file_links import FileLinks

from keybuzz_connector_mirakl.catalogue import Operator
from keybuzz_connector_mirakl.client import MiraklClient
from keybuzz_connector_mirakl.credentials import CREDENTIAL_FIELDS, MiraklCredentialCheck, key_of
from keybuzz_connector_mirakl.replies import PARTICIPANTS
from keybuzz_connector_mirakl.response_window import (
    MiraklResponseFigures,
    MiraklResponseWindow,
    MiraklSession,
)
from keybuzz_connector_mirakl.settings import MiraklApiSettings, MiraklSettings

# Mirakl's order ids: the operator's commercial id and a capital letter per shop of the
# cart, e.g. ``Order_00010-A`` [official, OR11's example] or ``BOU2345000012-A``. The
# commercial id's form is each operator's: letters, digits and underscores, with a digit
# (so that a hyphenated word of a message, "Saint-Denis", is no order id).
ORDER_IDS = OrderIdPattern(
    "[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z]",
    "a Mirakl one (the commercial id, a hyphen and a capital letter: 1234567-A)",
    joined="0-9A-Za-z_-",
)

LIMITS = Limits(
    # M12 [official]: the body 3-50,000 characters; at most 50 attachments over all the
    # threads of one order, and a message with its files within 30 MB (OR43's words).
    max_attachments=10,
    max_attachment_bytes=30 * 1024 * 1024,
    max_text_length=50_000,
    page_size=50,  # M11's default page [official]
)

# A thread's reply goes to the customer, the operator or both; whether the thread allows
# the one asked is read from it at the reply (a FAILED outcome naming its participants
# otherwise). Mirakl lists a reply's text back as sent; its refusals give a message, no
# code of their own. It posts no message of its own when an incident is opened.
DISCUSSIONS = Discussions(
    recipients=tuple(PARTICIPANTS), support_sender="OPERATOR", claim_subject="Incident Mirakl"
)


def open_session(
    credentials: Mapping[str, str],
    http: httpx.AsyncClient,
    api: MiraklApiSettings,
    files: FileLinks,
) -> MiraklSession:
    """One shop's session on its operator's API. ``files`` is not used: a thread's files
    come from the operator's API (M13), with the shop's key, at addresses built from
    Mirakl's ids."""
    client = MiraklClient(
        key_of(credentials),
        http,
        api.api_url,
        operator=api.operator,
        call_deadline=api.call_deadline_seconds,
    )
    return MiraklSession(
        client,
        page_size=LIMITS.page_size,
        operator_name=api.operator_name,
        orders_interval=api.orders_interval_seconds,
    )


def connector_of(operator: Operator) -> ShopConnector:
    """The operator's connector; one ``settings_type`` for every operator, so that a
    service started before an operator was added holds it."""
    return ShopConnector(
        marketplace=operator.code,
        display_name=operator.name,
        secret=f"mirakl_{operator.code.lower()}_api",  # the shop's API key and shop id
        credential_fields=CREDENTIAL_FIELDS,
        limits=LIMITS,
        settings_type=MiraklSettings,
        shop_api=KitShopApi(
            LIMITS, DISCUSSIONS, MiraklApiSettings, open_session, marketplace="Mirakl"
        ),
        credential_check=MiraklCredentialCheck(),
        order_ids=ORDER_IDS,
        response_window=MiraklResponseWindow(operator),
        response_figures=MiraklResponseFigures(),
    )

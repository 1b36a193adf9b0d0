"""The Back Market connector: the seam on Back Market's seller API (docs/BACKMARKET.md),
declared for the kit.

Its parts: a shop API (care folders and orders) and a credential check. The seller types
its token (no redirect flow); buyers write through care folders (no inbound address, no
mail relay); orders come from the shop API (no order feed). Back Market measures a
late-response rate (LRR) but publishes neither a window nor the figure to sellers' APIs:
the poller's default window, or the tenant's."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.kit import (
    AllowanceSession,
    Discussions,
    KitShopApi,
    OrderIdPattern,
    ShopConnector,
)
from keybuzz_shared.connectors.seam import Limits
from keybuzz_shared.file_links import FileLinks

from keybuzz_connector_backmarket.care import PAGE_SIZE, CareInbox
from keybuzz_connector_backmarket.client import BackMarketClient
from keybuzz_connector_backmarket.credentials import (
    CREDENTIAL_CHECK,
    CREDENTIAL_FIELDS,
    access_of,
    platform_of,
)
from keybuzz_connector_backmarket.orders import ShopOrders
from keybuzz_connector_backmarket.replies import (
    MAX_ATTACHMENTS,
    MAX_FILE_BYTES,
    RECIPIENTS,
    FolderReplies,
)
from keybuzz_connector_backmarket.settings import (
    BACKMARKET,
    BackMarketApiSettings,
    BackMarketSettings,
)

# Back Market's order ids: whole numbers (``order_id``, an integer [official]; eight digits
# in the seller back office [observed]). Taken for one from 7 to 12 digits, as in free
# text: a shorter number is a quantity, a price, a postcode or another marketplace's
# reference (an order's six-digit ``#ref``) far more often, and would turn those searches
# into order-id lookups. A number right after a "." or "," is a price's decimals.
ORDER_IDS = OrderIdPattern("[1-9][0-9]{6,11}", "a Back Market one (a whole number)", before=".,")

LIMITS = Limits(
    # A message's files [official]: at most 10 of 3 MB each.
    max_attachments=MAX_ATTACHMENTS,
    max_attachment_bytes=MAX_ATTACHMENTS * MAX_FILE_BYTES,
    max_file_bytes=MAX_FILE_BYTES,
    # Back Market states no text limit [official]; the double takes 5,000 characters.
    max_text_length=5_000,
    page_size=PAGE_SIZE,  # GET /ws/sav's 10 folders a page [official]
)

# A folder's message goes to the buyer and Back Market alike (MERCHANT_TO_ALL); multipart
# carries any text; Back Market's refusals (400) give no code of their own [official].
# Its claims are on the care folder itself: no message of its own opens one.
DISCUSSIONS = Discussions(
    recipients=RECIPIENTS, support_sender="BackMarket", claim_subject="Réclamation Back Market"
)


def open_session(
    credentials: Mapping[str, str],
    http: httpx.AsyncClient,
    api: BackMarketApiSettings,
    files: FileLinks,
) -> AllowanceSession:
    """One shop's session on its platform."""
    client = BackMarketClient(
        access_of(credentials, api.user_agent),
        http,
        api.platform_url(platform_of(credentials)),
        call_deadline=api.call_deadline_seconds,
        files=files,
    )
    return session_of(client)


def session_of(client: BackMarketClient) -> AllowanceSession:
    """The shop's parts on its client: the folder-list calls it sends are what Back
    Market's 4,000 a day count (a poll lists no incident: no call for them)."""
    inbox = CareInbox(client)
    return AllowanceSession(
        inbox,
        FolderReplies(client, inbox),
        ShopOrders(client),
        verify=lambda: client.get_json("/ws/sav", {"page": "1"}),
        calls=client,
    )


CONNECTOR = ShopConnector(
    marketplace=BACKMARKET,
    display_name="Back Market",
    secret="backmarket_api",  # the shop's API token, seller id and country
    credential_fields=CREDENTIAL_FIELDS,
    limits=LIMITS,
    settings_type=BackMarketSettings,
    shop_api=KitShopApi(
        LIMITS, DISCUSSIONS, BackMarketApiSettings, open_session, marketplace="Back Market"
    ),
    credential_check=CREDENTIAL_CHECK,
    order_ids=ORDER_IDS,
)

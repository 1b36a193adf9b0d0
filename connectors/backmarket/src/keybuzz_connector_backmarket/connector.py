"""The Back Market connector: the seam on Back Market's seller API (docs/BACKMARKET.md)."""

from __future__ import annotations

from keybuzz_shared.connectors.kit import OrderIdPattern
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    Limits,
)

from keybuzz_connector_backmarket.care import PAGE_SIZE
from keybuzz_connector_backmarket.credentials import CREDENTIAL_FIELDS, BackMarketCredentialCheck
from keybuzz_connector_backmarket.names import BACKMARKET
from keybuzz_connector_backmarket.replies import MAX_ATTACHMENTS, MAX_FILE_BYTES
from keybuzz_connector_backmarket.settings import BackMarketSettings
from keybuzz_connector_backmarket.shop_api import BackMarketShopApi

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


class BackMarketConnector(ConnectorDefaults):
    """Its parts: a shop API (care folders and orders) and a credential check. The seller
    types its token (no redirect flow); buyers write through care folders (no inbound
    address, no mail relay); orders come from the shop API (no order feed). Back Market
    measures a late-response rate (LRR) but publishes neither a window nor the figure to
    sellers' APIs: the poller's default window, or the tenant's."""

    marketplace = BACKMARKET
    display_name = "Back Market"
    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    settings_type = BackMarketSettings

    def __init__(self) -> None:
        self.shop_api = BackMarketShopApi(LIMITS)
        self.credential_check = BackMarketCredentialCheck()
        self.order_ids = ORDER_IDS

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's API token, seller id and country."""
        return f"secret/keybuzz/tenants/{tenant_id}/backmarket_api"

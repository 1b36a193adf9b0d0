"""The Back Market connector: the seam on Back Market's seller API (docs/BACKMARKET.md)."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    ConnectionKind,
    CredentialCheck,
    InboundAddresses,
    Limits,
    MailRelay,
    OrderFeed,
    OrderIds,
    RedirectFlow,
    ResponseFigures,
    ResponseWindow,
    ShopApi,
)
from keybuzz_shared.settings import PartSettings

from keybuzz_connector_backmarket.care import PAGE_SIZE
from keybuzz_connector_backmarket.credentials import CREDENTIAL_FIELDS, BackMarketCredentialCheck
from keybuzz_connector_backmarket.names import BACKMARKET
from keybuzz_connector_backmarket.order_ids import BackMarketOrderIds
from keybuzz_connector_backmarket.replies import MAX_ATTACHMENTS, MAX_FILE_BYTES
from keybuzz_connector_backmarket.settings import BackMarketSettings
from keybuzz_connector_backmarket.shop_api import BackMarketShopApi

LIMITS = Limits(
    # A message's files [official]: at most 10 of 3 MB each.
    max_attachments=MAX_ATTACHMENTS,
    max_attachment_bytes=MAX_ATTACHMENTS * MAX_FILE_BYTES,
    max_file_bytes=MAX_FILE_BYTES,
    # Back Market states no text limit [official]; the double takes 5,000 characters.
    max_text_length=5_000,
    page_size=PAGE_SIZE,  # GET /ws/sav's 10 folders a page [official]
)


class BackMarketConnector:
    marketplace = BACKMARKET
    display_name = "Back Market"
    connection_kind: ConnectionKind = "CREDENTIALS"
    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    settings_type: type[PartSettings] | None = BackMarketSettings

    def __init__(self) -> None:
        # Its parts (seam.Connector), in the seam's order; None: Back Market does not work so.
        self.shop_api: ShopApi | None = BackMarketShopApi(LIMITS)
        self.redirect_flow: RedirectFlow | None = None  # the seller types its token
        self.inbound_addresses: InboundAddresses | None = None  # messages come by the API
        self.credential_check: CredentialCheck | None = BackMarketCredentialCheck()
        self.order_ids: OrderIds | None = BackMarketOrderIds()
        self.order_feed: OrderFeed | None = None  # orders come from the shop API
        self.mail_relay: MailRelay | None = None  # buyers write through care folders
        # Back Market measures a late-response rate (LRR) but publishes no window to
        # sellers' APIs: the poller's default, or the tenant's.
        self.response_window: ResponseWindow | None = None
        self.response_figures: ResponseFigures | None = None  # its LRR is not read

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's API token, seller id and country."""
        return f"secret/keybuzz/tenants/{tenant_id}/backmarket_api"

    def __repr__(self) -> str:
        return "BackMarketConnector()"

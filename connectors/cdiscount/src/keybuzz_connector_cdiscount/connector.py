"""The Cdiscount connector: the seam on Octopia's seller API v2 (docs/CDISCOUNT.md)."""

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

from keybuzz_connector_cdiscount.credentials import CREDENTIAL_FIELDS, CdiscountCredentialCheck
from keybuzz_connector_cdiscount.names import CDISCOUNT
from keybuzz_connector_cdiscount.order_ids import CdiscountOrderIds
from keybuzz_connector_cdiscount.replies import FILE_FORMATS, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from keybuzz_connector_cdiscount.settings import CdiscountSettings
from keybuzz_connector_cdiscount.shop_api import CdiscountShopApi

LIMITS = Limits(
    # A reply's files [official]: at most 3, 4 MB in all, of Octopia's formats.
    max_attachments=MAX_ATTACHMENTS,
    max_attachment_bytes=MAX_ATTACHMENT_BYTES,
    attachment_formats=tuple(FILE_FORMATS),
    # One integration keeps bodies within 13-5,000 characters [observed]; the double
    # refuses longer ones.
    max_text_length=5_000,
    page_size=100,  # Octopia's largest page [official]
)


class CdiscountConnector:
    marketplace = CDISCOUNT
    display_name = "Cdiscount"
    connection_kind: ConnectionKind = "CREDENTIALS"
    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    settings_type: type[PartSettings] | None = CdiscountSettings

    def __init__(self) -> None:
        # Its parts (seam.Connector), in the seam's order; None: Cdiscount does not work so.
        self.shop_api: ShopApi | None = CdiscountShopApi(LIMITS)
        self.redirect_flow: RedirectFlow | None = None  # the seller types its API client
        self.inbound_addresses: InboundAddresses | None = None  # messages come by the API
        self.credential_check: CredentialCheck | None = CdiscountCredentialCheck()
        self.order_ids: OrderIds | None = CdiscountOrderIds()
        self.order_feed: OrderFeed | None = None  # orders come from the shop API
        self.mail_relay: MailRelay | None = None  # buyers write through the API
        # Octopia publishes no response rule to sellers: the poller's default, or the tenant's.
        self.response_window: ResponseWindow | None = None
        self.response_figures: ResponseFigures | None = None  # none published to sellers

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's client id, client secret and seller id."""
        return f"secret/keybuzz/tenants/{tenant_id}/cdiscount_api"

    def __repr__(self) -> str:
        return "CdiscountConnector()"

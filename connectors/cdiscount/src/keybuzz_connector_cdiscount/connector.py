"""The Cdiscount connector: the seam on Octopia's seller API v2 (docs/CDISCOUNT.md)."""

from __future__ import annotations

from keybuzz_shared.connectors.kit import OrderIdPattern
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    Limits,
)

from keybuzz_connector_cdiscount.credentials import CREDENTIAL_FIELDS, CdiscountCredentialCheck
from keybuzz_connector_cdiscount.names import CDISCOUNT
from keybuzz_connector_cdiscount.replies import FILE_FORMATS, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from keybuzz_connector_cdiscount.settings import CdiscountSettings
from keybuzz_connector_cdiscount.shop_api import CdiscountShopApi

# Cdiscount's order numbers: the minute the order was placed (yymmddHHMM) and five
# letters, e.g. ``2611230948AAACH`` (the form sellers see; Octopia publishes no format).
ORDER_IDS = OrderIdPattern("[0-9]{10}[A-Z]{5}", "a Cdiscount one (10 digits and 5 capital letters)")

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


class CdiscountConnector(ConnectorDefaults):
    """Its parts: a shop API (discussions and orders) and a credential check. The seller
    types its API client (no redirect flow); buyers write and orders come through the API
    (no inbound address, mail relay or order feed); Octopia publishes no response rule or
    figure to sellers: the poller's default window, or the tenant's."""

    marketplace = CDISCOUNT
    display_name = "Cdiscount"
    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    settings_type = CdiscountSettings

    def __init__(self) -> None:
        self.shop_api = CdiscountShopApi(LIMITS)
        self.credential_check = CdiscountCredentialCheck()
        self.order_ids = ORDER_IDS

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's client id, client secret and seller id."""
        return f"secret/keybuzz/tenants/{tenant_id}/cdiscount_api"

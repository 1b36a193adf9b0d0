"""One Mirakl operator as a marketplace: the seam on its instance of Mirakl's seller API
(docs/MIRAKL.md). Every operator of the catalogue is one MiraklConnector."""

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
    ResponseWindow,
    ShopApi,
)
from keybuzz_shared.settings import PartSettings

from keybuzz_connector_mirakl.catalogue import Operator
from keybuzz_connector_mirakl.credentials import CREDENTIAL_FIELDS, MiraklCredentialCheck
from keybuzz_connector_mirakl.settings import MiraklSettings
from keybuzz_connector_mirakl.shop_api import MiraklShopApi

LIMITS = Limits(
    # M12 [official]: the body 3-50,000 characters; at most 50 attachments over all the
    # threads of one order, and a message with its files within 30 MB (OR43's words).
    max_attachments=10,
    max_attachment_bytes=30 * 1024 * 1024,
    max_text_length=50_000,
    page_size=50,  # M11's default page [official]
)


class MiraklConnector:
    """The seam's Connector of one operator (``operator``, a catalogue entry)."""

    connection_kind: ConnectionKind = "CREDENTIALS"
    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    # One type for every operator: a service started before an operator was added holds it.
    settings_type: type[PartSettings] | None = MiraklSettings

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self.marketplace = operator.code
        self.display_name = operator.name
        # Its parts (seam.Connector), in the seam's order; None: Mirakl does not work so.
        self.shop_api: ShopApi | None = MiraklShopApi(LIMITS, operator.name)
        self.redirect_flow: RedirectFlow | None = None  # the seller types its API key
        self.inbound_addresses: InboundAddresses | None = None  # messages come by the API
        self.credential_check: CredentialCheck | None = MiraklCredentialCheck()
        self.order_ids: OrderIds | None = None
        self.order_feed: OrderFeed | None = None  # orders come from the shop API (OR11)
        self.mail_relay: MailRelay | None = None  # customers write through the API
        self.response_window: ResponseWindow | None = None

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's API key and shop id, one secret per operator."""
        return f"secret/keybuzz/tenants/{tenant_id}/mirakl_{self.operator.code.lower()}_api"

    def __repr__(self) -> str:
        return f"MiraklConnector({self.operator.code!r})"

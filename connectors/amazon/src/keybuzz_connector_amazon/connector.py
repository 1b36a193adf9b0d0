"""The Amazon connector: a seller connects with Login with Amazon (a redirect), buyers'
messages arrive as relay e-mails, replies go back through the relay, orders come from
SP-API. Its parts are the seam's (``connectors.seam``); the ones Amazon has not are None."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    ConnectionKind,
    CredentialCheck,
    CredentialField,
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

from keybuzz_connector_amazon.credentials import tenant_credentials_path
from keybuzz_connector_amazon.inbound import AmazonInboundAddresses
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_connector_amazon.order_feed import AmazonOrderFeed, AmazonOrderIds
from keybuzz_connector_amazon.redirect import AmazonRedirectFlow
from keybuzz_connector_amazon.relay_mail import AmazonRelayMail
from keybuzz_connector_amazon.response_window import AmazonResponseWindow
from keybuzz_connector_amazon.settings import AmazonSettings

LIMITS = Limits(
    max_attachments=20,  # ours: Amazon documents a size, not a count
    max_attachment_bytes=10 * 1024 * 1024,  # all attachments of a message together
    max_text_length=100_000,
    page_size=100,
)


class AmazonConnector:
    marketplace = AMAZON
    display_name = "Amazon"
    connection_kind: ConnectionKind = "OAUTH_REDIRECT"
    credential_fields: tuple[CredentialField, ...] = ()  # the redirect brings them
    limits = LIMITS
    settings_type: type[PartSettings] | None = AmazonSettings
    # Its parts (seam.Connector), in the seam's order; None: Amazon does not work so.
    shop_api: ShopApi | None = None  # buyers write through the relay, not an API we poll
    redirect_flow: RedirectFlow | None = AmazonRedirectFlow()
    inbound_addresses: InboundAddresses | None = AmazonInboundAddresses()
    credential_check: CredentialCheck | None = None  # the redirect brings the credentials
    order_ids: OrderIds | None = AmazonOrderIds()
    order_feed: OrderFeed | None = AmazonOrderFeed()
    mail_relay: MailRelay | None = AmazonRelayMail(LIMITS)
    response_window: ResponseWindow | None = AmazonResponseWindow()
    response_figures: ResponseFigures | None = None  # none published through an API

    def credentials_path(self, tenant_id: str) -> str:
        return tenant_credentials_path(tenant_id)

    def __repr__(self) -> str:
        return "AmazonConnector()"

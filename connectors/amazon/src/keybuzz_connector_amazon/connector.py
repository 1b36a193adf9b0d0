"""The Amazon connector: a seller connects with Login with Amazon (a redirect), buyers'
messages arrive as relay e-mails, replies go back through the relay, orders come from
SP-API. Its parts are the seam's (``connectors.seam``); the ones Amazon has not are None."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    ConnectionKind,
    ConnectorDefaults,
    InboundAddresses,
    Limits,
    MailRelay,
    OrderFeed,
    OrderIds,
    RedirectFlow,
    ResponseWindow,
)

from keybuzz_connector_amazon.credentials import tenant_credentials_path
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

RELAY = AmazonRelayMail(LIMITS)


class AmazonConnector(ConnectorDefaults):
    """Its parts: the consent redirect (the seller's credentials come with it: no
    credential fields or check), inbound addresses and the mail relay (buyers write
    through Amazon's relay, not an API we poll: no shop API), SP-API's order feed, and
    Amazon's response rule. No response figure is published through an API."""

    marketplace = AMAZON
    display_name = "Amazon"
    connection_kind: ConnectionKind = "OAUTH_REDIRECT"
    limits = LIMITS
    settings_type = AmazonSettings
    redirect_flow: RedirectFlow | None = AmazonRedirectFlow()
    inbound_addresses: InboundAddresses | None = RELAY  # the relay's addresses
    order_ids: OrderIds | None = AmazonOrderIds()
    order_feed: OrderFeed | None = AmazonOrderFeed()
    mail_relay: MailRelay | None = RELAY
    response_window: ResponseWindow | None = AmazonResponseWindow()

    def credentials_path(self, tenant_id: str) -> str:
        return tenant_credentials_path(tenant_id)

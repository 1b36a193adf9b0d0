"""One marketplace's connector: what every marketplace has, then its parts."""

from __future__ import annotations

from typing import Protocol

from keybuzz_shared.connectors.seam.credentials import (
    ConnectionKind,
    CredentialCheck,
    CredentialField,
)
from keybuzz_shared.connectors.seam.inbound_addresses import InboundAddresses
from keybuzz_shared.connectors.seam.limits import Limits
from keybuzz_shared.connectors.seam.mail_relay import MailRelay
from keybuzz_shared.connectors.seam.order_feed import OrderFeed
from keybuzz_shared.connectors.seam.order_ids import OrderIds
from keybuzz_shared.connectors.seam.redirect_flow import RedirectFlow
from keybuzz_shared.connectors.seam.response_figures import ResponseFigures
from keybuzz_shared.connectors.seam.response_window import ResponseWindow
from keybuzz_shared.connectors.seam.shop_api import ShopApi
from keybuzz_shared.connectors.seam.thread_closing import ThreadClosing
from keybuzz_shared.settings import PartSettings


class Connector(Protocol):
    """One marketplace. What every marketplace has comes first; then its parts, each None
    where the marketplace does not work that way (services test the part, never the name)."""

    @property
    def marketplace(self) -> str: ...

    @property
    def display_name(self) -> str:
        """How sellers call it ("Connect <display_name>")."""
        ...

    @property
    def connection_kind(self) -> ConnectionKind: ...

    @property
    def credential_fields(self) -> tuple[CredentialField, ...]: ...

    @property
    def limits(self) -> Limits: ...

    def credentials_path(self, tenant_id: str) -> str:
        """Where in Vault the tenant's credentials for this marketplace are kept."""
        ...

    @property
    def settings_type(self) -> type[PartSettings] | None:
        """Its package's settings (a ``ConnectorSettings``), read with a service's at start-up."""
        ...

    # --- its parts ---

    @property
    def shop_api(self) -> ShopApi | None:
        """Shops polled over the marketplace's API: one session per shop for its inbox
        (messages, claims, read marks), replies and orders."""
        ...

    @property
    def redirect_flow(self) -> RedirectFlow | None:
        """A seller connects by consenting on the marketplace's site (OAUTH_REDIRECT)."""
        ...

    @property
    def inbound_addresses(self) -> InboundAddresses | None:
        """Buyers' messages reach us by e-mail, at an address per tenant and country."""
        ...

    @property
    def credential_check(self) -> CredentialCheck | None:
        """Whether the credentials a seller typed authenticate (CREDENTIALS)."""
        ...

    @property
    def order_ids(self) -> OrderIds | None:
        """What the marketplace's order ids look like."""
        ...

    @property
    def order_feed(self) -> OrderFeed | None:
        """The marketplace's own order API with reports, change notifications and buyer
        messaging (orders' backfill by reports, notifications, messaging actions)."""
        ...

    @property
    def mail_relay(self) -> MailRelay | None:
        """Buyers write, and replies go back, through the marketplace's e-mail relay."""
        ...

    @property
    def response_window(self) -> ResponseWindow | None:
        """The marketplace measures the seller's response time by a rule of its own."""
        ...

    @property
    def response_figures(self) -> ResponseFigures | None:
        """The marketplace publishes its own figure for a shop's response time."""
        ...

    @property
    def thread_closing(self) -> ThreadClosing | None:
        """The seller may close a ticket's thread on the marketplace through its API."""
        ...


class ConnectorDefaults:
    """What a connector need not write: a connector subclasses it and declares what its
    marketplace has (its value and name, limits, credentials path, the parts it has);
    every part it does not declare is absent (None), its credentials are typed by the
    seller (CREDENTIALS) and it has no settings of its own."""

    connection_kind: ConnectionKind = "CREDENTIALS"
    credential_fields: tuple[CredentialField, ...] = ()
    settings_type: type[PartSettings] | None = None
    shop_api: ShopApi | None = None
    redirect_flow: RedirectFlow | None = None
    inbound_addresses: InboundAddresses | None = None
    credential_check: CredentialCheck | None = None
    order_ids: OrderIds | None = None
    order_feed: OrderFeed | None = None
    mail_relay: MailRelay | None = None
    response_window: ResponseWindow | None = None
    response_figures: ResponseFigures | None = None
    thread_closing: ThreadClosing | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def shop_api_of(connector: Connector) -> ShopApi:
    """The connector's ShopApi; LookupError for a marketplace that is not polled by API."""
    api = connector.shop_api
    if api is None:
        raise LookupError(f"{connector.marketplace} shops are not polled over an API")
    return api


def connects_by(connector: Connector) -> ConnectionKind | None:
    """How a seller connects its marketplace (oauth's connection, the console's button or
    form, the dev stack's banner): by consent where it has a redirect flow, by the
    credentials it declares where it is CREDENTIALS; None: no connection is made of it."""
    if connector.redirect_flow is not None:
        return "OAUTH_REDIRECT"
    if connector.connection_kind == "CREDENTIALS":
        return "CREDENTIALS"
    return None


def messages_by_api(connector: Connector) -> bool:
    """Its buyers' messages are polled, and replies sent, over its ``shop_api``: it has one
    and no ``mail_relay``. A connector with both gets its messages by mail and replies by
    mail; its shop API serves orders and the credential check only."""
    return connector.shop_api is not None and connector.mail_relay is None


def mail_relay_of(connector: Connector) -> MailRelay:
    """The connector's MailRelay; LookupError for a marketplace without an e-mail relay."""
    relay = connector.mail_relay
    if relay is None:
        raise LookupError(f"{connector.marketplace} has no e-mail relay")
    return relay

"""What a connector's settings are to the services: a ``PartSettings`` of the connector's
package (its own variables, defaults and checks), read with each service's settings and
seen through the views a part needs (``shop_api``, ``redirect_flow``). A connector names its
settings type (``Connector.settings_type``); ``MarketplaceSettings`` holds one of each."""

from __future__ import annotations

from typing import ClassVar, Protocol, TypeVar

from keybuzz_shared.connectors.seam import RedirectFlowSettings, ShopApiSettings
from keybuzz_shared.settings import PartSettings

__all__ = ["ConnectorSettings", "HoldsConnectorSettings", "ShopApiSettings"]


class ConnectorSettings(PartSettings, kw_only=True, frozen=True):
    """A connector's settings; the views of the parts its connector does not have are None."""

    # The variable that turns the mail relay's demo mode on (docs/POLLER.md, "Mock source").
    MAIL_RELAY_DEMO_ENV: ClassVar[str] = ""

    def shop_api(self, marketplace: str) -> ShopApiSettings | None:
        """The settings of ``marketplace``'s shop API (a connector may serve several)."""
        return None

    def redirect_flow(self, marketplace: str) -> RedirectFlowSettings | None:
        return None

    @property
    def mail_relay_demo(self) -> bool:
        """Polls read the relay's demo mails instead of the mailbox."""
        return False


C = TypeVar("C", bound=ConnectorSettings)


class HoldsConnectorSettings(Protocol):
    """A service's settings as a connector's own code reads them (``MarketplaceSettings``)."""

    def of(self, kind: type[C]) -> C:
        """The settings of type ``kind``."""
        ...

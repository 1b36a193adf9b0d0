"""What a connector's settings are to the services: a ``PartSettings`` of the connector's
package (its own variables, defaults and checks), read with each service's settings and
seen through the views a part needs (``shop_api``, ``redirect_flow``). A connector names its
settings type (``Connector.settings_type``); ``MarketplaceSettings`` holds one of each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Protocol, TypeVar

from keybuzz_shared.connectors.seam import RedirectFlowSettings, ShopApiSettings
from keybuzz_shared.file_links import origin_of, production_problem, shown
from keybuzz_shared.settings import PartSettings

__all__ = ["ConnectorSettings", "HoldsConnectorSettings", "ShopApiSettings", "file_origins"]


def file_origins(given: str, addresses: Iterable[str]) -> tuple[str, ...]:
    """The origins a shop's files may be fetched from: ``given`` (comma-separated), else
    those of the API's ``addresses``, each once."""
    listed = [o.strip() for o in given.split(",") if o.strip()]
    if listed:
        return tuple(listed)
    return tuple(dict.fromkeys(shown(origin_of(url)) for url in addresses))


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

    def check_addresses(self, named: Iterable[tuple[str, str]]) -> None:
        """ValueError naming the variable of an address that is not http(s), or that
        production-like settings refuse (inside our network, not https); msgspec makes it
        a SettingsError naming the variable (``settings.load_settings``)."""
        for name, url in named:
            try:
                origin_of(url)
            except ValueError:
                raise ValueError(f"{name}: {url!r} is not an http(s) address") from None
            if self.is_production and (problem := production_problem(url)):
                raise ValueError(
                    f"{name} ({url}) {problem}: refused when KEYBUZZ_ENV={self.keybuzz_env}"
                )


C = TypeVar("C", bound=ConnectorSettings)


class HoldsConnectorSettings(Protocol):
    """A service's settings as a connector's own code reads them (``MarketplaceSettings``)."""

    def of(self, kind: type[C]) -> C:
        """The settings of type ``kind``."""
        ...

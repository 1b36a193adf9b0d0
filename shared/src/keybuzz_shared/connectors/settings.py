"""The settings of a service that talks to marketplaces: its own, and each connector's
(``Connector.settings_type``, a Struct of the connector's package) read from the same
environment at start-up and checked then. Services read them by ``marketplace``, never by
name: ``shop_api(marketplace)``, ``redirect_flow(marketplace)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

import msgspec

from keybuzz_shared.connectors.connector_settings import C, ConnectorSettings, ShopApiSettings
from keybuzz_shared.connectors.registry import UnknownMarketplace, connector_for, connectors
from keybuzz_shared.connectors.seam import RedirectFlowSettings
from keybuzz_shared.settings import CommonSettings, PartSettings

__all__ = ["MarketplaceSettings", "ShopApiSettings"]


def _defaults() -> tuple[PartSettings, ...]:
    return tuple(t() for t in MarketplaceSettings.part_types())


class MarketplaceSettings(CommonSettings, kw_only=True, frozen=True):
    # The default VAULT_ADDR is a developer's Vault: in production it must be given.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = CommonSettings.DEV_ONLY_DEFAULTS | {"vault_addr"}
    NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset({"parts"})

    # One of each connector's settings type (load_settings; built here: their defaults).
    parts: tuple[PartSettings, ...] = msgspec.field(default_factory=_defaults)

    @classmethod
    def part_types(cls) -> tuple[type[PartSettings], ...]:
        """The settings types of the connectors registered now, each once."""
        found = (c.settings_type for c in connectors())
        return tuple(dict.fromkeys(t for t in found if t is not None))

    def with_parts(self, parts: Mapping[type[PartSettings], PartSettings]) -> Self:
        return msgspec.structs.replace(self, parts=tuple(parts.values()))

    def of(self, kind: type[C]) -> C:
        """The settings of type ``kind`` (a connector's)."""
        for part in self.parts:
            if type(part) is kind:
                assert isinstance(part, kind)
                return part
        raise LookupError(f"no connector registered has settings of type {kind.__name__}")

    def _connector(self, marketplace: str) -> ConnectorSettings | None:
        kind = connector_for(marketplace).settings_type
        found = next((p for p in self.parts if type(p) is kind), None)
        return found if isinstance(found, ConnectorSettings) else None

    def shop_api(self, marketplace: str) -> ShopApiSettings:
        """The shop API settings of ``marketplace`` (UnknownMarketplace: it has none)."""
        found = self._connector(marketplace)
        settings = found.shop_api(marketplace) if found is not None else None
        if settings is None:
            raise UnknownMarketplace(marketplace)
        return settings

    def redirect_flow(self, marketplace: str) -> RedirectFlowSettings:
        """The redirect flow settings of ``marketplace`` (UnknownMarketplace: it has none)."""
        found = self._connector(marketplace)
        settings = found.redirect_flow(marketplace) if found is not None else None
        if settings is None:
            raise UnknownMarketplace(marketplace)
        return settings

    @property
    def mail_relay_demo(self) -> bool:
        """A connector's mail relay reads demo mails (``mail_relay_demo_env`` says which)."""
        return bool(self.mail_relay_demo_env)

    @property
    def mail_relay_demo_env(self) -> str:
        """The variable that turned a relay's demo mode on, or ""."""
        demos = (p for p in self.parts if isinstance(p, ConnectorSettings))
        return next((p.MAIL_RELAY_DEMO_ENV for p in demos if p.mail_relay_demo), "")

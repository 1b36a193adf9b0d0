"""What a double's entry point names (group ``keybuzz.doubles``, read by ``doubles.py``):
apart, so that a double's package imports it without loading the others."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ServiceEnv = Callable[[str], dict[str, str]]


@dataclass(frozen=True)
class Double:
    """One double: its name, the settings pointing a service at it, its own settings, and
    where its routes (``module:function`` of the sandbox, giving them or what it serves:
    ``double_kit.served.Served``, mounted in its app) and the maker of its conformance
    drivers (``module:callable`` taking ``marketplace=`` and ``double=``, this one: a
    driver's class) are: imported when asked, so that reading a double's settings loads
    nothing else of it."""

    name: str
    service_env: ServiceEnv
    routes_at: str = ""
    drivers_at: str = ""
    marketplaces: tuple[str, ...] = ()  # the marketplace values it has a driver for
    # ``module:function`` returning, for a marketplace value, a driver listing the shops the
    # double seeds for it when it has no conformance driver of its own (every operator of a
    # many-operator API), or None: not one of its marketplaces. Empty: its drivers are all.
    listers_at: str = ""
    # ``module:function`` returning its mail relay's conformance drivers by marketplace
    # value (``relay_conformance.RelayDriver``); empty: it is no mail relay's double.
    relay_drivers_at: str = ""
    # Its own settings (a msgspec Struct whose every field has a default), read from
    # ``<settings_prefix><FIELD>`` (``config.double_settings``); None: it has none.
    settings: type[Any] | None = None
    # The beginning of its settings' variables; empty: ``SANDBOX_<NAME>_``.
    settings_prefix: str = ""
    # The recipient domains of the sellers' replies its relay takes: the sandbox's reply
    # front (reply_front.py) forwards a reply for one of them to it, as an outbound MTA
    # delivers by the recipient's domain. Empty: it takes no replies by mail.
    reply_domains: tuple[str, ...] = ()
    # ``module:function`` giving, for the running sandbox, where that relay listens
    # (``(host, port)``, None while it does not serve).
    reply_relay_at: str = ""
    # ``module:function`` answering a request no route of the sandbox takes (an unknown
    # path, a method a path has not), as its marketplace's API answers one; one double at
    # most gives one (its API's paths are the sandbox's own, unprefixed). Empty: it has none.
    unknown_path_at: str = ""

    @property
    def variables_prefix(self) -> str:
        """The beginning of its settings' variables."""
        return self.settings_prefix or f"SANDBOX_{self.name.upper()}_"

    def routes(self, sandbox: Any) -> Sequence[Any]:
        """Its route handlers on ``sandbox`` (the ``Sandbox``, typed loosely: the sandbox's
        config reads the doubles' settings through this module): those its routes function
        gives, or what it declares it serves (``double_kit.served.Served``) assembled."""
        from keybuzz_sandbox.double_kit.served import Served  # loaded when an app is made

        if not self.routes_at:
            return ()
        routes: Sequence[Any] | Served = pkgutil.resolve_name(self.routes_at)(sandbox)
        return routes.mounted(self.name, sandbox) if isinstance(routes, Served) else routes

    def drivers(self) -> Mapping[str, Any]:
        """Its ``conformance.ShopDriver``s, one for each of its ``marketplaces`` (typed
        loosely: the conformance module reads the doubles)."""
        if not self.drivers_at:
            return {}
        made = pkgutil.resolve_name(self.drivers_at)
        return {m: made(marketplace=m, double=self) for m in self.marketplaces}

    def relay_drivers(self) -> Mapping[str, Any]:
        """Its ``relay_conformance.RelayDriver``s by marketplace value (typed loosely, as
        ``drivers``)."""
        if not self.relay_drivers_at:
            return {}
        drivers: Mapping[str, Any] = pkgutil.resolve_name(self.relay_drivers_at)()
        return drivers

    def reply_relay(self, sandbox: Any) -> tuple[str, int] | None:
        """Where its relay for sellers' replies listens on ``sandbox`` (the ``Sandbox``,
        typed loosely as in ``routes``), or None: it has none, or it does not serve now."""
        if not self.reply_relay_at:
            return None
        where: tuple[str, int] | None = pkgutil.resolve_name(self.reply_relay_at)(sandbox)
        return where

    def lister(self, marketplace: str) -> Any:
        """A driver listing its seeded shops of ``marketplace`` (a ``conformance.ShopDriver``,
        typed loosely as ``drivers``), or None."""
        if not self.listers_at:
            return None
        return pkgutil.resolve_name(self.listers_at)(marketplace)

    def unknown_path(self) -> Callable[[], Any] | None:
        """Its answer to a request no route takes (a Litestar ``Response``, typed loosely as
        ``routes``), or None."""
        if not self.unknown_path_at:
            return None
        answer: Callable[[], Any] = pkgutil.resolve_name(self.unknown_path_at)
        return answer

"""Settings of Kaufland's shops (docs/KAUFLAND.md, "Settings"): each read from its
KAUFLAND_ variable by every service that talks to the shops."""

from __future__ import annotations

from typing import ClassVar

from keybuzz_shared.connectors.kit import ShopSettings

KAUFLAND = "KAUFLAND"  # the marketplace value of its shops, tickets and orders
# The storefronts' sites [assumed: kaufland.<country>], where a ticket's files are linked
# [official example: https://www.kaufland.de/dynamic/files/test].
STOREFRONT_SITES = tuple(
    f"https://www.kaufland.{tld}" for tld in ("de", "cz", "sk", "pl", "at", "fr", "it")
)


class KauflandSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = KAUFLAND
    PREFIX: ClassVar[str] = "kaufland"
    # Kaufland keeps no read mark on ticket messages [official: none in the API].
    NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset({"mark_as_read"})

    # Production's API [official]; ``make run`` points it at the sandbox's double.
    api_url: str = "https://sellerapi.kaufland.com/v2"
    mark_as_read: bool = False

    @property
    def file_hosts(self) -> tuple[str, ...]:
        """A ticket's files come from the storefronts' sites, or the API's own origin (the
        double's), unless KAUFLAND_ATTACHMENT_ORIGINS names others."""
        return (self.api_url, *STOREFRONT_SITES)

"""Settings of Kaufland's shops, each from its KAUFLAND_ variable (docs/KAUFLAND.md)."""

from __future__ import annotations

from typing import ClassVar

from keybuzz_shared.connectors.kit import ShopSettings

from keybuzz_connector_kaufland.tickets import LANGUAGES

KAUFLAND = "KAUFLAND"  # the marketplace value of its shops, tickets and orders
# The storefronts' sites [assumed: kaufland.<country>], where a ticket's files are linked
# [official example: https://www.kaufland.de/dynamic/files/test].
STOREFRONT_SITES = tuple(f"https://www.kaufland.{storefront}" for storefront in LANGUAGES)


class KauflandSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = KAUFLAND
    PREFIX: ClassVar[str] = "kaufland"
    # Kaufland keeps no read mark on ticket messages [official: none in the API].
    MARKS_READ: ClassVar[bool] = False

    # Production's API [official]; ``make run`` points it at the sandbox's double.
    api_url: str = "https://sellerapi.kaufland.com/v2"

    @property
    def file_hosts(self) -> tuple[str, ...]:
        """The storefronts' sites, and the API's origin (the double's)."""
        return (self.api_url, *STOREFRONT_SITES)

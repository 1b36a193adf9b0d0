"""Amazon marketplaces the sandbox knows (ids are Amazon's)."""

from __future__ import annotations

import msgspec


class Marketplace(msgspec.Struct, frozen=True):
    id: str
    country_code: str
    currency: str
    language: str
    region: str
    vat_rate: float
    tld: str

    @property
    def name(self) -> str:
        return f"Amazon.{self.tld}"

    @property
    def domain_name(self) -> str:
        return f"www.amazon.{self.tld}"

    @property
    def relay_domain(self) -> str:
        """Domain of the anonymised buyer addresses used by Buyer-Seller Messaging."""
        return f"marketplace.amazon.{self.tld}"


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in (
        Marketplace("A13V1IB3VIYZZH", "FR", "EUR", "fr_FR", "eu", 0.20, "fr"),
        Marketplace("A1PA6795UKMFR9", "DE", "EUR", "de_DE", "eu", 0.19, "de"),
        Marketplace("A1F83G8C2ARO7P", "GB", "GBP", "en_GB", "eu", 0.20, "co.uk"),
        Marketplace("A1RKKUPIHCS9HS", "ES", "EUR", "es_ES", "eu", 0.21, "es"),
        Marketplace("APJ6JRA9NG5V4", "IT", "EUR", "it_IT", "eu", 0.22, "it"),
        Marketplace("ATVPDKIKX0DER", "US", "USD", "en_US", "na", 0.0, "com"),
    )
}

FR = "A13V1IB3VIYZZH"
DE = "A1PA6795UKMFR9"

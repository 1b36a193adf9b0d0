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
    name: str  # Amazon.<tld>
    domain_name: str  # www.amazon.<tld>
    relay_domain: str  # the anonymised buyer addresses' domain (Buyer-Seller Messaging)


def _amazon(
    marketplace_id: str,
    country: str,
    currency: str,
    language: str,
    region: str,
    vat: float,
    tld: str,
) -> Marketplace:
    """A marketplace named after its top-level domain, as every Amazon marketplace is."""
    names = (f"Amazon.{tld}", f"www.amazon.{tld}", f"marketplace.amazon.{tld}")
    return Marketplace(marketplace_id, country, currency, language, region, vat, tld, *names)


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in (
        _amazon("A13V1IB3VIYZZH", "FR", "EUR", "fr_FR", "eu", 0.20, "fr"),
        _amazon("A1PA6795UKMFR9", "DE", "EUR", "de_DE", "eu", 0.19, "de"),
        _amazon("A1F83G8C2ARO7P", "GB", "GBP", "en_GB", "eu", 0.20, "co.uk"),
        _amazon("A1RKKUPIHCS9HS", "ES", "EUR", "es_ES", "eu", 0.21, "es"),
        _amazon("APJ6JRA9NG5V4", "IT", "EUR", "it_IT", "eu", 0.22, "it"),
        _amazon("ATVPDKIKX0DER", "US", "USD", "en_US", "na", 0.0, "com"),
    )
}

FR = "A13V1IB3VIYZZH"
DE = "A1PA6795UKMFR9"

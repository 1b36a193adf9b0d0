"""Amazon marketplaces the sandbox knows (ids are Amazon's)."""

from __future__ import annotations

import msgspec


class Marketplace(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    country_code: str
    name: str
    domain_name: str
    currency: str
    language: str
    region: str
    vat_rate: float
    tld: str

    @property
    def seller_central(self) -> str:
        return f"sellercentral.amazon.{self.tld}"

    @property
    def relay_domain(self) -> str:
        """Domain of the anonymised buyer addresses used by Buyer-Seller Messaging."""
        return f"marketplace.amazon.{self.tld}"


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in (
        Marketplace(
            id="A13V1IB3VIYZZH",
            country_code="FR",
            name="Amazon.fr",
            domain_name="www.amazon.fr",
            currency="EUR",
            language="fr_FR",
            region="eu",
            vat_rate=0.20,
            tld="fr",
        ),
        Marketplace(
            id="A1PA6795UKMFR9",
            country_code="DE",
            name="Amazon.de",
            domain_name="www.amazon.de",
            currency="EUR",
            language="de_DE",
            region="eu",
            vat_rate=0.19,
            tld="de",
        ),
        Marketplace(
            id="A1F83G8C2ARO7P",
            country_code="GB",
            name="Amazon.co.uk",
            domain_name="www.amazon.co.uk",
            currency="GBP",
            language="en_GB",
            region="eu",
            vat_rate=0.20,
            tld="co.uk",
        ),
        Marketplace(
            id="A1RKKUPIHCS9HS",
            country_code="ES",
            name="Amazon.es",
            domain_name="www.amazon.es",
            currency="EUR",
            language="es_ES",
            region="eu",
            vat_rate=0.21,
            tld="es",
        ),
        Marketplace(
            id="APJ6JRA9NG5V4",
            country_code="IT",
            name="Amazon.it",
            domain_name="www.amazon.it",
            currency="EUR",
            language="it_IT",
            region="eu",
            vat_rate=0.22,
            tld="it",
        ),
        Marketplace(
            id="ATVPDKIKX0DER",
            country_code="US",
            name="Amazon.com",
            domain_name="www.amazon.com",
            currency="USD",
            language="en_US",
            region="na",
            vat_rate=0.0,
            tld="com",
        ),
    )
}

FR = "A13V1IB3VIYZZH"
DE = "A1PA6795UKMFR9"

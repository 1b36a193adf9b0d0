"""Amazon regions and marketplaces: ids, SP-API endpoints, Seller Central hosts.

Ids and hosts are Amazon's (SP-API "Marketplace IDs" and "Authorization" docs).
The consent page lives on the Seller Central host of the seller's marketplace;
the tokens it yields work on every marketplace of the same region.
"""

from __future__ import annotations

import msgspec

LWA_TOKEN_ENDPOINT = "https://api.amazon.com/auth/o2/token"


class Region(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # "na" | "eu" | "fe", as stored in Vault and events
    spapi_endpoint: str
    aws_region: str


class Marketplace(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # country code the product app uses ("FR")
    id: str  # Amazon marketplace id
    region: str
    seller_central_host: str

    @property
    def seller_central_url(self) -> str:
        return f"https://{self.seller_central_host}"


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region(
            code="na",
            spapi_endpoint="https://sellingpartnerapi-na.amazon.com",
            aws_region="us-east-1",
        ),
        Region(
            code="eu",
            spapi_endpoint="https://sellingpartnerapi-eu.amazon.com",
            aws_region="eu-west-1",
        ),
        Region(
            code="fe",
            spapi_endpoint="https://sellingpartnerapi-fe.amazon.com",
            aws_region="us-west-2",
        ),
    )
}


def _m(code: str, marketplace_id: str, region: str, tld: str) -> Marketplace:
    return Marketplace(
        code=code,
        id=marketplace_id,
        region=region,
        seller_central_host=f"sellercentral.amazon.{tld}",
    )


MARKETPLACES: dict[str, Marketplace] = {
    m.code: m
    for m in (
        _m("US", "ATVPDKIKX0DER", "na", "com"),
        _m("CA", "A2EUQ1WTGCTBG2", "na", "ca"),
        _m("MX", "A1AM78C64UM0Y8", "na", "com.mx"),
        _m("BR", "A2Q3Y263D00KWC", "na", "com.br"),
        _m("FR", "A13V1IB3VIYZZH", "eu", "fr"),
        _m("DE", "A1PA6795UKMFR9", "eu", "de"),
        _m("GB", "A1F83G8C2ARO7P", "eu", "co.uk"),
        _m("ES", "A1RKKUPIHCS9HS", "eu", "es"),
        _m("IT", "APJ6JRA9NG5V4", "eu", "it"),
        _m("NL", "A1805IZSGTT6HS", "eu", "nl"),
        _m("BE", "AMEN7PMS3EDWL", "eu", "com.be"),
        _m("SE", "A2NODRKZP88ZB9", "eu", "se"),
        _m("PL", "A1C3SOZRARQ6R3", "eu", "pl"),
        _m("IE", "A28R8C7NBKEWEA", "eu", "ie"),
        _m("TR", "A33AVAJ2PDY3EV", "eu", "com.tr"),
        _m("JP", "A1VC38T7YXB528", "fe", "co.jp"),
        _m("AU", "A39IBJ37TRP1C6", "fe", "com.au"),
        _m("SG", "A19VAU5U5O7RUS", "fe", "sg"),
    )
}
# Amazon and sellers say "UK"; ISO says "GB".
_ALIASES = {"UK": "GB"}


class UnknownMarketplace(ValueError):
    def __init__(self, code: str) -> None:
        known = ", ".join(sorted(MARKETPLACES))
        super().__init__(f"unknown Amazon marketplace {code!r}; known: {known}")
        self.code = code


def marketplace(code: str) -> Marketplace:
    """The marketplace for a country code (case-insensitive) or an Amazon marketplace id."""
    key = code.strip().upper()
    key = _ALIASES.get(key, key)
    if key in MARKETPLACES:
        return MARKETPLACES[key]
    for candidate in MARKETPLACES.values():
        if candidate.id == code.strip():
            return candidate
    raise UnknownMarketplace(code)


def region(code: str) -> Region:
    try:
        return REGIONS[code.lower()]
    except KeyError:
        raise ValueError(f"unknown SP-API region {code!r}; known: na, eu, fe") from None

"""Sellers API v1: getMarketplaceParticipations."""

from __future__ import annotations

from .spapi import Answer, CallContext


async def get_marketplace_participations(ctx: CallContext) -> Answer:
    book = ctx.book()
    market = book.gen.marketplace
    participation = {
        "marketplace": {
            "id": market.id,
            "name": market.name,
            "countryCode": market.country_code,
            "defaultCurrencyCode": market.currency,
            "defaultLanguageCode": market.language,
            "domainName": market.domain_name,
        },
        "participation": {"isParticipating": True, "hasSuspendedListings": False},
        "storeName": book.gen.spec.store_name,
    }
    return Answer(200, {"payload": [participation]})


IMPLEMENTATIONS = {"sellers.getMarketplaceParticipations": get_marketplace_participations}

"""Sellers API v1: getMarketplaceParticipations."""

from __future__ import annotations

from .spapi import CallContext, Reply


async def get_marketplace_participations(ctx: CallContext) -> Reply:
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
    return Reply({"payload": [participation]})


IMPLEMENTATIONS = {"sellers.getMarketplaceParticipations": get_marketplace_participations}

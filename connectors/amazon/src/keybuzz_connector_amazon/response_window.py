"""Amazon's Contact Response Time, the ``response_window`` part of the Amazon connector.

Amazon counts a buyer message late when it is not answered within 24 hours on the
calendar clock, weekends and holidays included, whatever the tenant prefers (no override).
Amazon offers no API to mark a message "no response needed": the agent marks it in
Seller Central too, on the order's page.
"""

from __future__ import annotations

from datetime import timedelta

from keybuzz_shared.connectors.seam import MarketplaceMark, ResponseRule

from keybuzz_connector_amazon.marketplaces import UnknownMarketplace, marketplace

RULE = ResponseRule(window=timedelta(hours=24))
NOTE = (
    "Amazon offers no API to mark a message 'no response needed': mark it in Seller "
    "Central too, or Amazon counts it in the response time"
)


class AmazonResponseWindow:
    """The seam's ``ResponseWindow`` for Amazon."""

    rule = RULE

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        if order_id is None or country is None:
            missing = "order id" if order_id is None else "marketplace country"
            return MarketplaceMark(
                synced=False, note=f"{NOTE} (no link: the {missing} is unknown)", url=None
            )
        try:
            host = marketplace(country).seller_central_url
        except UnknownMarketplace:
            return MarketplaceMark(
                synced=False, note=f"{NOTE} (no link: unknown marketplace {country})", url=None
            )
        # The order's page in Seller Central holds its buyer-seller messages; Amazon
        # publishes no address for a single messaging thread.
        return MarketplaceMark(synced=False, note=NOTE, url=f"{host}/orders-v3/order/{order_id}")

    def __repr__(self) -> str:
        return "AmazonResponseWindow()"

"""The eBay double: eBay's consent page, token endpoint, Identity, Message and Fulfillment
APIs under /ebay, its admin under /_sandbox/ebay."""

from keybuzz_double_ebay.double import DOUBLE

__all__ = ["DOUBLE"]

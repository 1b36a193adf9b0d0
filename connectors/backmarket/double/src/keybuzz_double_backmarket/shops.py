"""The seeded Back Market shops (development data): sizes, home countries, tokens, ids.
A shop is one seller account on Back Market's EU platform; its buyers write in its home
country's language, a few from the platform's other countries."""

from __future__ import annotations

import base64

import msgspec
from keybuzz_sandbox.double_kit.draws import digest

# The EU platform's country codes (official), the first four the seeded shops'.
EU_COUNTRIES = (
    *("fr-fr", "de-de", "es-es", "it-it", "fr-be", "de-at", "en-gb", "nl-nl", "pt-pt"),
    *("en-ie", "el-gr", "sk-sk", "sv-se"),
)
HOME_COUNTRIES = EU_COUNTRIES[:4]


class ShopSpec(msgspec.Struct, frozen=True):
    number: int  # the shop's place in the double: its ids' range and its merchant id
    name: str
    country: str  # home country: most of its orders and folders
    seeded_folders: int  # care folders in the 60 days before the sandbox started
    buyer_events_per_day: float  # new folders and buyer messages a day, on average
    orders_per_folder: int = 4  # orders for one folder (most orders have none)


SHOPS = (
    ShopSpec(1, "KeyBuzz Reconditionné Paris", "fr-fr", 60, 80.0),
    ShopSpec(2, "KeyBuzz Refurbished Berlin", "de-de", 25, 20.0),
    ShopSpec(3, "KeyBuzz Reacondicionados Madrid", "es-es", 12, 6.0),
    ShopSpec(4, "KeyBuzz Ricondizionati Milano", "it-it", 4, 1.5),
)
# Each extra shop (SANDBOX_BACKMARKET_EXTRA_SHOPS): small (2 folders seeded, 4 events a
# day), numbered from 1001, home countries in turn.
EXTRA_SHOP_NUMBERS = 1_000


def extra_specs(count: int) -> tuple[ShopSpec, ...]:
    return tuple(
        ShopSpec(
            EXTRA_SHOP_NUMBERS + n,
            f"KeyBuzz Boutique Back Market {n:05d}",
            HOME_COUNTRIES[n % len(HOME_COUNTRIES)],
            2,
            4.0,
        )
        for n in range(1, count + 1)
    )


def api_token(seed: str, number: int, generation: int = 0) -> str:
    """The token a seller creates in its back office (opaque to its client)."""
    raw = digest(seed, "backmarket-token", number, generation, size=30)
    return base64.b64encode(raw).decode()


def merchant_id(number: int) -> int:
    return 40_000 + number


# Id ranges: each shop's own, so that ids do not depend on which shop was read first.
# Care folders of the current system have ids above 100,000,000 (official: older ones
# below it take only OTHER problems).
FOLDER_IDS, ORDER_IDS, LINE_IDS = 100_000_000, 30_000_000, 60_000_000
MESSAGE_IDS, ATTACHMENT_IDS, CLAIM_IDS = 700_000_000, 900_000_000, 500_000_000
IDS_PER_SHOP = 100_000

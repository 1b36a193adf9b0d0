"""Back Market's settings (docs/BACKMARKET.md, "Settings"), each from its BACKMARKET_ variable."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.connectors.seam import ShopApiSettings
from keybuzz_shared.settings import AtLeastOne

BACKMARKET = "BACKMARKET"  # the marketplace value of its shops, tickets and orders
# Where Back Market's buyers write, by local hour in Paris (its European countries): a night
# busier than the poller's French default (docs/BACKMARKET.md, "Allowance").
BUYER_HOURS: tuple[float, ...] = (
    (0.7, 0.3, 0.15, 0.1, 0.1, 0.1)  # 0-5 h
    + (0.2, 0.5, 1.0, 1.6, 1.9, 2.0)  # 6-11 h
    + (2.0, 1.9, 1.8, 1.8, 1.9, 1.9)  # 12-17 h
    + (2.0, 2.3, 2.6, 2.7, 2.3, 1.4)  # 18-23 h
)
# Each country code a shop may have [official]: its platform, its country and language in
# French, as a folder's ticket shows its locale (a part these lack, ``fr-ca``, as written).
LOCALES = {
    "fr-fr": ("EU", "France", "français"),
    "fr-be": ("EU", "Belgique", "français"),
    "es-es": ("EU", "Espagne", "espagnol"),
    "de-de": ("EU", "Allemagne", "allemand"),
    "de-at": ("EU", "Autriche", "allemand"),
    "it-it": ("EU", "Italie", "italien"),
    "en-gb": ("EU", "Royaume-Uni", "anglais"),
    "nl-nl": ("EU", "Pays-Bas", "néerlandais"),
    "pt-pt": ("EU", "Portugal", "portugais"),
    "en-ie": ("EU", "Irlande", "anglais"),
    "el-gr": ("EU", "Grèce", "grec"),
    "sk-sk": ("EU", "Slovaquie", "slovaque"),
    "sv-se": ("EU", "Suède", "suédois"),
    "en-us": ("US", "États-Unis", "anglais"),
    "ja-jp": ("AP", "Japon", "japonais"),
    "en-au": ("AP", "Australie", "anglais"),
}
PLATFORMS = {locale: platform for locale, (platform, _, _) in LOCALES.items()}
COUNTRIES = {locale[3:].upper(): country for locale, (_, country, _) in LOCALES.items()}
LANGUAGES = {locale[:2]: language for locale, (_, _, language) in LOCALES.items()}
# The User-Agent's parts (joined by "-" and ";", so in none): one off its pattern refused at load.
Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.]{1,40}$")]
Contact = Annotated[str, msgspec.Meta(pattern=r"^[^@\s;]+@[^@\s;]+\.[^@\s;]+$")]


class BackMarketApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """Back Market's API as a session and the credential check are given it: each
    platform's host (``api_url``: EU) and the ``User-Agent`` every call carries."""

    us_url: str
    ap_url: str
    user_agent: str


class BackMarketSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE = BACKMARKET
    VIEW = BackMarketApiSettings
    ENV_NAMES = {"api_url": "BACKMARKET_EU_URL"}  # the EU platform's: the API's
    MARKS_READ = False  # Back Market has no read mark: no BACKMARKET_MARK_AS_READ

    # Each platform's production host [official]; ``make run`` points them at the double.
    api_url: str = "https://www.backmarket.fr"
    backmarket_us_url: str = "https://www.backmarket.com"
    backmarket_ap_url: str = "https://www.backmarket.co.jp"
    # The User-Agent Back Market requires: BM-{company}-{integration};{contact}.
    backmarket_user_agent_company: Name = "KeyBuzz"
    backmarket_user_agent_integration: Name = "Care"
    backmarket_user_agent_contact: Contact = "integrations@keybuzz.io"
    # The shortest interval between a shop's polls, and the folder list's calls a day per
    # account the poller plans them with (docs/BACKMARKET.md, "Allowance").
    poll_interval_seconds: AtLeastOne = 10
    backmarket_calls_per_day: AtLeastOne = 4_000

    @property
    def file_hosts(self) -> tuple[str, ...]:  # unless BACKMARKET_ATTACHMENT_ORIGINS says
        return (self.api_url, self.backmarket_us_url, self.backmarket_ap_url)

    def view_fields(self) -> dict[str, Any]:
        agent = (
            f"BM-{self.backmarket_user_agent_company}-"
            f"{self.backmarket_user_agent_integration};{self.backmarket_user_agent_contact}"
        )
        return {
            "us_url": self.backmarket_us_url,
            "ap_url": self.backmarket_ap_url,
            "user_agent": agent,
            "calls_per_day": self.backmarket_calls_per_day,
            "listing_overlap_seconds": 60,  # Back Market's filter is to the minute
            "buyer_hours": BUYER_HOURS,
        }

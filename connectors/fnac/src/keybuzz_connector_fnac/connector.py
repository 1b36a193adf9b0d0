"""The Fnac/Darty connector declared (docs/FNAC.md, "One API, two marketplaces")."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

import msgspec
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import Connector, CredentialField, Limits, ShopApiSettings
from keybuzz_shared.settings import AtLeastOne, PartSettings

from keybuzz_connector_fnac.client import FnacClient, FnacCredentials
from keybuzz_connector_fnac.session import DISCUSSIONS, ORDER_IDS, session_of

# The ``marketplace`` values this connector serves (events, tables, routes).
FNAC = "FNAC"
DARTY = "DARTY"
FNAC_API_URL = "https://vendeur.fnac.com/api.php/"
# One shop-id space for Fnac's and Darty's shops: a shop is one account under either value
# (oauth's migration 004 writes this same form for the rows connected before it).
SELLER_API = "fnac-seller-api"


class FnacApiSettings(kit.ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = FNAC
    # Files from FNAC_API_URL's origin, unless FNAC_ATTACHMENT_ORIGINS says (docs/SECURITY.md).
    API_SERVES_FILES: ClassVar[bool] = True

    # Production's endpoint by default; ``make run`` points it at the sandbox's double.
    api_url: str = FNAC_API_URL
    # Darty's shops at their own interval; unset: FNAC_POLL_INTERVAL_SECONDS.
    darty_poll_interval_seconds: AtLeastOne | None = None
    first_poll_days: AtLeastOne = 30  # how far back a shop's first poll reads

    def shop_api(self, marketplace: str) -> ShopApiSettings | None:
        """Fnac's view, for Darty's shops too but for their interval (if set)."""
        view = super().shop_api(FNAC if marketplace == DARTY else marketplace)
        darty = self.darty_poll_interval_seconds if marketplace == DARTY else None
        if view is None or darty is None:
            return view
        return msgspec.structs.replace(view, poll_interval_seconds=darty)


# Fnac's account managers give its ids as UUIDs, which Fnac writes in upper case: kept so,
# the same id typed in either case is one account ("one shop, one tenant" exact).
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
uuid_field = functools.partial(
    CredentialField, pattern=UUID_PATTERN, format="UUID", max_length=36, case="upper"
)
CREDENTIAL_FIELDS = (
    uuid_field(name="partner_id", json_name="partnerId", label="Partner ID"),
    uuid_field(name="shop_id", json_name="shopId", label="Shop ID", account=True),
    kit.key_field("key", "API key", max_length=256),
)
LIMITS = Limits(
    # The 2018 XSD has no attachment in a reply, and the newer format is not published.
    max_attachments=0,
    max_attachment_bytes=0,
    max_text_length=2000,  # the sandbox double's assumption too
    page_size=100,  # results_count's default in the XSDs
)


def client_of(marketplace: str, shop: kit.Declaration.Opening[ShopApiSettings]) -> FnacClient:
    """The shop's client: it holds one token; ValueError when a field is missing."""
    fields = shop.credentials  # the account's in its canonical form, as it is sent
    credentials = kit.credentials_as(FnacCredentials, CREDENTIAL_FIELDS, fields, marketplace)
    return FnacClient(shop.http, shop.api.api_url, credentials, **shop.options)


async def probe(client: FnacClient, _credentials: Mapping[str, str]) -> str:
    """One ``auth`` call: the account is the shop whose id and key it accepted."""
    await client.authenticate()
    return f"{SELLER_API}:{client.credentials.shop_id}"


def fnac_connector(
    marketplace: str,
    display_name: str,
    *,
    settings: type[PartSettings] = FnacApiSettings,
    limits: Limits = LIMITS,
) -> Connector:
    """The connector of one of FNAC or DARTY (or of a marketplace speaking Fnac's seller
    API, read with its own ``settings`` and ``limits``)."""
    return kit.shop_api_connector(
        kit.Declaration(
            marketplace,
            display_name,
            CREDENTIAL_FIELDS,
            limits,
            client=functools.partial(client_of, marketplace),
            parts=lambda client, _api: session_of(client, limits),
            probe=probe,
            settings=settings,
            discussions=DISCUSSIONS,
            order_ids=ORDER_IDS,
        )
    )

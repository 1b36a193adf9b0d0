"""The connector kit (docs/ARCHITECTURE.md, "The connector kit"): its surface is these
names, a part's options reached through it (``Listing.Offsets``, ``KitSession.ReadInTurn``)."""

from keybuzz_shared.connectors.kit.auth import (
    CallErrors,
    ClientCredentials,
    HeaderAuth,
    Redacted,
    account_field,
    credentials_as,
    key_field,
    shop_number_field,
)
from keybuzz_shared.connectors.kit.catalogue import Catalogue
from keybuzz_shared.connectors.kit.declaration import (
    Declaration,
    KitSession,
    ShopCallSettings,
    ShopSettings,
    own_account,
    shop_api_connector,
)
from keybuzz_shared.connectors.kit.declared_relay import DeclaredRelay
from keybuzz_shared.connectors.kit.json_answers import (
    JsonAnswers,
    PersonName,
    iso_z,
    named_in,
    path_segment,
    read_as,
    reader,
)
from keybuzz_shared.connectors.kit.listing import Listing
from keybuzz_shared.connectors.kit.orders import (
    ListedOrders,
    OrderIdPattern,
    decimal_of,
    unit_price,
)
from keybuzz_shared.connectors.kit.requester import ApiSpec, Refusals, Requester
from keybuzz_shared.connectors.kit.threads import (
    DeclaredReplies,
    item_at,
    labelled,
    media_type_of,
    shown,
)
from keybuzz_shared.connectors.kit.xml_answers import Node

__all__ = [
    "ApiSpec",
    "CallErrors",
    "Catalogue",
    "ClientCredentials",
    "Declaration",
    "DeclaredRelay",
    "DeclaredReplies",
    "HeaderAuth",
    "JsonAnswers",
    "KitSession",
    "ListedOrders",
    "Listing",
    "Node",
    "OrderIdPattern",
    "PersonName",
    "Redacted",
    "Refusals",
    "Requester",
    "ShopCallSettings",
    "ShopSettings",
    "account_field",
    "credentials_as",
    "decimal_of",
    "iso_z",
    "item_at",
    "key_field",
    "labelled",
    "media_type_of",
    "named_in",
    "own_account",
    "path_segment",
    "read_as",
    "reader",
    "shop_api_connector",
    "shop_number_field",
    "shown",
    "unit_price",
]

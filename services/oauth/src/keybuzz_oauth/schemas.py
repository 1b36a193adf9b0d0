"""JSON bodies of the oauth endpoints (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

# The shops' ids (partner, shop) are UUIDs; ``$(?!\n)``: keybuzz_shared.ids.
SHOP_UUID_PATTERN = (
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$(?!\n)"
)
ShopUuid = Annotated[str, msgspec.Meta(pattern=SHOP_UUID_PATTERN)]


class Body(msgspec.Struct, kw_only=True, rename="camel"):
    pass


class StartRequest(Body, forbid_unknown_fields=True):
    # Country code ("FR") or marketplace id; default: the marketplace's default site.
    marketplace: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    # The seller may already be connected to another tenant: disconnect it there
    # (docs/OAUTH.md §9). Without it such a callback is refused.
    takeover: bool = False


class StartResponse(Body):
    auth_url: str
    expires_at: datetime
    state: str
    marketplace: str
    marketplace_id: str


class MarketplaceRef(Body):
    code: str | None
    id: str


class StatusResponse(Body):
    status: str
    marketplace_type: str
    seller_id: str | None = None
    marketplaces: list[MarketplaceRef] = []
    region: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None
    # Whether the refresh token behind a CONNECTED connection is really in Vault
    # (None: not applicable, or Vault could not be asked).
    credentials_verified: bool | None = None


class CallbackResult(Body, omit_defaults=True):
    """What the callback answers a client that asked for JSON instead of a redirect."""

    status: str  # "connected" | "error"
    tenant_id: str | None = None
    seller_id: str | None = None
    marketplace_ids: list[str] = []
    reason: str | None = None
    message: str | None = None


class ShopConnectRequest(Body, forbid_unknown_fields=True):
    """A shop's credentials, as the seller's account manager gave them."""

    partner_id: ShopUuid
    shop_id: ShopUuid
    # Printable ASCII, no space: an error message about it never quotes it.
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[!-~]+$(?!\n)")]


class ShopStatusResponse(Body):
    status: str
    marketplace_type: str
    shop_id: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None
    # Whether the key behind a CONNECTED connection is really in Vault (None: not
    # applicable, or Vault could not be asked).
    credentials_verified: bool | None = None

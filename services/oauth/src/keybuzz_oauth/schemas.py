"""JSON bodies of the oauth endpoints (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from keybuzz_shared.connectors.credential_form import full_match
from keybuzz_shared.connectors.seam import ConnectionKind, Connector


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
    # Why the connection is not used now: its marketplace is not served (kept as it is).
    not_served: str | None = None


class CallbackResult(Body, omit_defaults=True):
    """What the callback answers a client that asked for JSON instead of a redirect."""

    status: str  # "connected" | "error"
    tenant_id: str | None = None
    seller_id: str | None = None
    marketplace_ids: list[str] = []
    reason: str | None = None
    message: str | None = None


def shop_connect_request(connector: Connector) -> type[msgspec.Struct]:
    """The body of ``POST …/connection`` for a CREDENTIALS marketplace: its connector's
    ``credential_fields``, each a string held to its length and pattern, described in
    OpenAPI by its label and format; unknown fields refused. The connector's own check
    (``credential_form.read_credentials``, in the use case) normalises what passes."""
    fields: list[tuple[str, Any]] = []
    for f in connector.credential_fields:
        about = f.label + (f" ({f.format})" if f.format else "") + (", secret" if f.secret else "")
        meta = msgspec.Meta(
            min_length=1, max_length=f.max_length, pattern=full_match(f), description=about
        )
        fields.append((f.name, Annotated[str, meta]))
    return msgspec.defstruct(
        f"{connector.display_name.replace(' ', '')}ConnectRequest",
        fields,
        kw_only=True,
        forbid_unknown_fields=True,
        rename={f.name: f.json_name for f in connector.credential_fields},
        module=__name__,
    )


class ShopStatusResponse(Body):
    status: str
    marketplace_type: str
    shop_id: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None
    # Whether the key behind a CONNECTED connection is really in Vault (None: not
    # applicable, or Vault could not be asked).
    credentials_verified: bool | None = None
    # Why the connection is not used now: its marketplace is not served (kept as it is).
    not_served: str | None = None


# --- the catalogue: what a tenant can connect (GET /api/v1/marketplaces) ------------------


class CatalogueField(Body):
    """One field of a credential form, as the frontend renders and sends it."""

    name: str  # the key in the connection's request body
    label: str
    secret: bool  # an input that hides what is typed; never shown back
    format: str | None  # what the value looks like, for people ("UUID")
    pattern: str | None  # a regular expression the whole value must match
    max_length: int


class CatalogueAttachments(Body):
    max_count: int  # 0: a reply takes no attachment
    max_total_bytes: int  # all of a reply's attachments together
    formats: list[str]  # media types; empty: the marketplace lists none


class CatalogueLimits(Body):
    reply_max_length: int  # characters of a reply's text
    attachments: CatalogueAttachments


# The catalogue's spelling of a connection kind (``connectionKind``), which clients read:
# "redirect" (``POST …/oauth/start``) or "credentials" (``POST …/connection``).
CATALOGUE_KIND: dict[ConnectionKind, Literal["redirect", "credentials"]] = {
    "OAUTH_REDIRECT": "redirect",
    "CREDENTIALS": "credentials",
}


class CatalogueEntry(Body, omit_defaults=True):
    marketplace: str  # the value in paths (lower case) and rows (upper case)
    display_name: str  # "Connect <displayName>"
    connection_kind: Literal["redirect", "credentials"]
    fields: list[CatalogueField]  # the credential form's; empty for a redirect
    limits: CatalogueLimits
    # Where the seller gives the marketplace its inbound address (tenant-sync's status
    # endpoint shows the address); absent for a marketplace whose buyers do not write by mail.
    inbound_address_setup: str | None = None


class CatalogueResponse(Body):
    marketplaces: list[CatalogueEntry]

"""How a seller connects: the connection's kind, the fields typed in and their check (oauth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import msgspec

if TYPE_CHECKING:
    import httpx

    from keybuzz_shared.connectors.seam.shop_api import ShopApiSettings


# How a seller connects a marketplace: by consenting on its site, or by typing the
# credentials its connector declares. The one type: connectors declare it, oauth and the
# dev stack's banner choose by it (oauth's catalogue spells it "redirect"/"credentials").
ConnectionKind = Literal["OAUTH_REDIRECT", "CREDENTIALS"]


class CredentialField(msgspec.Struct, frozen=True, kw_only=True):
    """One field a seller types in to connect a CREDENTIALS marketplace: the connector's
    declaration, from which oauth builds the connection's request body, checks and
    normalises what was typed (``credential_form.read_credentials``) and describes the
    form to the frontend (``GET /api/v1/marketplaces``)."""

    name: str  # the connector's own name for it: the key in Vault and in ``verify``
    json_name: str  # the request body's and the catalogue's (camelCase)
    label: str  # what the form shows
    secret: bool = False  # never shown back, logged nor quoted in an error
    pattern: str | None = None  # a regular expression the whole value must match
    # What ``pattern`` means, said to people in a refusal and in the catalogue ("UUID").
    format: str | None = None
    max_length: int = 256
    # The spelling the marketplace writes the value in: what is typed is stored so, which
    # keeps a comparison of two spellings of one value exact.
    case: Literal["upper", "lower"] | None = None
    # The value is a number to the marketplace (its ids are integers): leading zeros are
    # padding, and "043115" is shop 43115 (``credential_form.canonical``).
    number: bool = False
    # The value names the shop on the marketplace: the connection's shop id (one field).
    account: bool = False


class CredentialCheck(Protocol):
    """The check of a CREDENTIALS marketplace's shop before it is connected."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        """Returns the account's identity when the marketplace accepts ``credentials`` (the
        fields of ``credential_fields``) on the API ``settings`` describe (what this
        connector's ``shop_api(marketplace)`` gave, its own subclass when it made one), asked for a person waiting: little retrying. Raises
        CredentialsRefused, MarketplaceUnavailable (with ``retry_after`` when the
        marketplace said one), or another ConnectorError for an answer that is not its
        API's; messages never hold a credential.

        ``credentials`` are canonical (``credential_form.read_credentials``). Where the
        marketplace's answer names the account the credentials belong to, that answer
        decides: a typed account id it contradicts is refused (CredentialsRefused).

        The identity names the API and the account it answered for, ``<api>:<shop id>``
        with the canonical shop id last (oauth rewrites that last part when it brings a
        connection stored in another spelling to the canonical one): two marketplace
        values served by one API give one shop one identity, whichever value it was
        connected under. Callers compare identities only."""
        ...


@runtime_checkable
class InstanceIdentity(Protocol):
    """A ``CredentialCheck`` whose API has instances given as data (a catalogue's entries,
    each one marketplace value): a shop's identity is its instance's (the host its base URL
    names, the kit's ``instance_of``) and its id, whatever the catalogue calls the instance, so
    that one shop reached under two entries of one instance is one shop. The settings alone
    say it: oauth brings a connection stored in an earlier form to it at start-up."""

    def identity_on(self, settings: ShopApiSettings, account: str) -> str:
        """The identity of shop ``account`` (canonical) on the instance ``settings`` name."""
        ...

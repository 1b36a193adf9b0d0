"""A credential field holding an id the marketplace gives as a UUID (a partner's, a
shop's): its pattern, its length, and the one case it is kept in, so that the same id
typed in either case is one account ("one shop, one tenant" exact)."""

from __future__ import annotations

from typing import Literal

from keybuzz_shared.connectors.seam import CredentialField

UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def uuid_field(
    name: str,
    json_name: str,
    label: str,
    *,
    case: Literal["upper", "lower"] = "lower",
    account: bool = False,
) -> CredentialField:
    """A UUID, kept in ``case`` (the one the marketplace writes it in); ``account``: the
    field names the account the connection is."""
    return CredentialField(
        name=name,
        json_name=json_name,
        label=label,
        pattern=UUID_PATTERN,
        format="UUID",
        max_length=36,
        case=case,
        account=account,
    )

"""The credential fields shop APIs ask for, declared once: a key or token, a shop's number,
and the check that a shop's stored credentials hold every field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from keybuzz_shared.connectors.seam import CredentialField

# Printable ASCII without spaces: what the marketplaces' back offices generate, and what
# lets a refusal about a value never quote it.
PRINTABLE = "[!-~]+"


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def key_field(
    name: str, label: str, *, max_length: int, secret: bool = True, json_name: str = ""
) -> CredentialField:
    """A key, a token or a client id, typed as the back office shows it."""
    return CredentialField(
        name=name,
        json_name=json_name or _camel(name),
        label=label,
        secret=secret,
        pattern=PRINTABLE,
        format="printable ASCII text without spaces",
        max_length=max_length,
    )


def shop_number_field(name: str, label: str, *, json_name: str = "") -> CredentialField:
    """The shop's id where the marketplace numbers its shops: the account the connection
    is, "043115" being shop 43115 (``credential_form.canonical``)."""
    return CredentialField(
        name=name,
        json_name=json_name or _camel(name),
        label=label,
        pattern="[0-9]{1,12}",
        format="digits",
        max_length=12,
        number=True,
        account=True,
    )


def require_fields(
    fields: Sequence[CredentialField], values: Mapping[str, str], marketplace: str
) -> None:
    """ValueError naming the fields ``values`` lacks (never a value)."""
    missing = [f.name for f in fields if not values.get(f.name)]
    if missing:
        raise ValueError(f"{marketplace} credentials lack {', '.join(missing)}")

"""What a seller typed to connect a CREDENTIALS marketplace, held to its connector's
declared ``credential_fields`` (seam.CredentialField): each field there, a string, within
its length and format, nothing else; made canonical (``canonical``): one value of the
marketplace is one string here, whatever spelling, padding, width or case it was typed in,
so that "one shop, one tenant" compares shops, not spellings.

A refusal names the field (its JSON name) and the rule, never the value: a secret typed
in the wrong field must not come back in an answer or a log.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from keybuzz_shared.connectors.seam import CredentialField


class CredentialFieldInvalid(ValueError):
    """``field`` (a JSON name) breaks ``rule``; the message is ``"<field>: <rule>"``."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def full_match(field: CredentialField) -> str | None:
    """The field's pattern anchored at both ends, for validators that search (msgspec's,
    a browser's); ``$(?!\\n)``: ``$`` alone accepts a final newline (keybuzz_shared.ids)."""
    return None if field.pattern is None else f"^(?:{field.pattern})$(?!\\n)"


def rule_of(field: CredentialField) -> str:
    """The field's format, said to a person."""
    if field.format:
        return f"must be a {field.format}"
    if field.pattern:
        return f"must match {field.pattern}"
    return "must not be empty"


def read_credentials(
    fields: Sequence[CredentialField], typed: Mapping[str, object]
) -> dict[str, str]:
    """``typed`` (keyed by JSON name) as the connector's credentials (keyed by ``name``),
    normalised; raises CredentialFieldInvalid for the first field that breaks a rule."""
    declared = {f.json_name for f in fields}
    for unknown in sorted(set(typed) - declared):
        raise CredentialFieldInvalid(unknown, "not a field of this marketplace's form")
    read = {}
    for field in fields:
        value = typed.get(field.json_name)
        if value is None or value == "":
            raise CredentialFieldInvalid(field.json_name, "is required")
        if not isinstance(value, str):
            raise CredentialFieldInvalid(field.json_name, "must be a string")
        if len(value) > field.max_length:
            raise CredentialFieldInvalid(
                field.json_name, f"must be at most {field.max_length} characters"
            )
        anchored = full_match(field)
        if anchored is not None and re.search(anchored, value) is None:
            raise CredentialFieldInvalid(field.json_name, rule_of(field))
        read[field.name] = canonical(field, value)
    return read


def canonical(field: CredentialField, value: str) -> str:
    """The one spelling of ``value`` for ``field``, by the rule its connector declares:
    Unicode compatibility forms folded (NFKC: full-width digits are digits), surrounding
    whitespace dropped, the marketplace's case (``case``), a number's leading zeros dropped
    (``number``). What is stored, compared and sent is this form. A secret is never
    touched: it is what the marketplace issued, byte for byte."""
    if field.secret:
        return value
    value = unicodedata.normalize("NFKC", value).strip()
    if field.case == "upper":
        value = value.upper()
    elif field.case == "lower":
        value = value.lower()
    if field.number and value.isascii() and value.isdigit():
        value = value.lstrip("0") or "0"
    return value


def canonical_account(fields: Sequence[CredentialField], value: str) -> str:
    """A shop id (typed, stored or named by the marketplace) in its canonical form."""
    return canonical(_account_field(fields), value)


def reidentified(identity: str, account: str) -> str:
    """An account's identity (``<api>:<shop id>``, the seam's ``CredentialCheck``, or the
    shop id alone where a connector's is) with its shop id replaced by ``account``. An
    identity an earlier start made ``:<shop id>`` from the shop id alone is the shop id
    again, so that it meets the identity a new connection of that shop stores."""
    api, colon, _ = identity.rpartition(":")
    return f"{api}{colon}{account}" if api else account


def account_name(fields: Sequence[CredentialField]) -> str:
    """The name of the one field declared ``account``: the shop's id on the marketplace."""
    return _account_field(fields).name


def account_of(fields: Sequence[CredentialField], credentials: Mapping[str, str]) -> str:
    """The shop's id on the marketplace: the value of the field declared ``account``, in its
    canonical form (whatever spelling the credentials were stored in)."""
    account = _account_field(fields)
    return canonical(account, credentials[account.name])


def _account_field(fields: Sequence[CredentialField]) -> CredentialField:
    [account] = [f for f in fields if f.account]
    return account


def stored(fields: Sequence[CredentialField], secret: Mapping[str, object]) -> dict[str, str]:
    """The declared fields of what Vault holds, or {} when one is missing or blank."""
    found = {f.name: str(secret.get(f.name) or "") for f in fields}
    return found if all(v.strip() for v in found.values()) else {}

"""A shop's credentials as the connector's msgspec Struct, its fields named as its
credential fields: read from the shop's stored fields (each one required, the account in
its canonical form, ``credentials_as``), and shown without their secrets (``Redacted``:
its repr, a log line's, a traceback's or a test's failure, names every field, the values
of those in ``SECRETS`` masked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, TypeVar

import msgspec

from keybuzz_shared.connectors.credential_form import canonical
from keybuzz_shared.connectors.kit.fields import require_fields
from keybuzz_shared.connectors.seam import CredentialField
from keybuzz_shared.redaction import REDACTED

T = TypeVar("T", bound=msgspec.Struct)


class Redacted(msgspec.Struct, frozen=True):
    """A Struct whose ``SECRETS`` (field names) never appear in its repr."""

    SECRETS: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        shown = (
            f"{name}={REDACTED}" if name in self.SECRETS else f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
        )
        return f"{type(self).__name__}({', '.join(shown)})"


def credentials_as(
    kind: type[T], fields: Sequence[CredentialField], stored: Mapping[str, str], label: str
) -> T:
    """The shop's ``stored`` credentials as a ``kind``: ValueError naming the fields
    missing (never a value; ``label``: the marketplace)."""
    require_fields(fields, stored, label)
    values = {f.name: canonical(f, stored[f.name]) if f.account else stored[f.name] for f in fields}
    return msgspec.convert(values, kind)

"""The DKIM-Signature header a mail-relay double puts on the mails its marketplace signs:
one way for every double, relaxed canonicalisation as the marketplaces' mails show it."""

from __future__ import annotations

from collections.abc import Iterable

import dkim


def dkim_signature(
    raw: bytes, selector: str, domain: str, private_key: bytes, fields: Iterable[bytes]
) -> bytes:
    """The DKIM-Signature header of ``raw`` by ``domain`` (its ``selector`` and key),
    covering ``fields``."""
    signature: bytes = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(fields),
    )
    return signature

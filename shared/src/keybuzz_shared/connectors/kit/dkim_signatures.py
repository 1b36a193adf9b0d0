"""A relay mail's DKIM signatures that verify (``DeclaredRelay.signatures``), with the
keys of a marketplace's ``DkimKeys``: one check for every relay that signs."""

from __future__ import annotations

import logging
import re

import dkim

from keybuzz_shared.connectors.kit.dkim_keys import DkimKeys
from keybuzz_shared.connectors.kit.signed_mail import MailSignature

log = logging.getLogger(__name__)

_DKIM_SIGNATURE = re.compile(rb"^dkim-signature\s*:", re.IGNORECASE | re.MULTILINE)
# A marketplace signs once or twice; a mail carrying many signatures costs no more than
# this many checks.
MOST_SIGNATURES = 4


def verified_signatures(raw: bytes, keys: DkimKeys) -> list[MailSignature]:
    """The mail's DKIM signatures that verify (domain ``d=``, fields ``h=``): the signed
    headers (From among them, dkimpy requires it) and the whole body as received, with a
    key of ``keys``. A signature covering only part of the body (``l=``) does not count:
    text added below it would read as signed."""
    count = min(len(_DKIM_SIGNATURE.findall(raw)), MOST_SIGNATURES)
    found: list[MailSignature] = []
    lookup = keys.lookup()
    for index in range(count):
        checker = dkim.DKIM(raw, minkey=1024, timeout=2)
        try:
            verified = checker.verify(idx=index, dnsfunc=lookup)
        except Exception as exc:  # dkimpy raises on malformed signatures and records
            log.info("a DKIM signature could not be checked", extra={"reason": str(exc)})
            continue
        fields = checker.signature_fields or {}
        if verified and b"l" not in fields and isinstance(checker.domain, bytes):
            found.append(
                MailSignature(
                    domain=checker.domain.decode("ascii", "replace").lower(),
                    fields=tuple(
                        name.strip().decode("ascii", "replace").lower()
                        for name in fields.get(b"h", b"").split(b":")
                    ),
                )
            )
    return found

"""Whether a relay mail is its marketplace's own (docs/SECURITY.md, "A forged mail hidden
as no response needed"): a buyer's mail is the buyer's unless the marketplace signed it.

A mail is the marketplace's when a DKIM signature of one of the relay's signing domains
verifies (the relay's ``signatures``), the From address is of that domain (or under it),
and the signature covers every instance of the fields that say who wrote the mail and
what it shows. DKIM counts a field's instances from the bottom (its ``h=`` tag lists one
name per instance signed), so an instance above those it signed is anyone's: a field
present more times than ``h=`` names it is not covered. A field RFC 5322 allows once that
is present twice makes the mail the buyer's whatever signs it (which of the two the
signature covers, and which a reader shows, differ). Its automatic marks
(``Auto-Submitted``) count only when the same signature covers them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

# Fields a mail carries at most once (RFC 5322 §3.6; RFC 3834's Auto-Submitted; MIME's).
SINGLE_FIELDS = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "auto-submitted",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
# What a reader shows of a mail (its writer, subject, how its body is read): every
# instance must be signed for the mail to be the marketplace's.
SHOWN_FIELDS = ("from", "sender", "reply-to", "subject", "content-type")
AUTOMATIC_FIELDS = ("auto-submitted",)


class MailSignature(msgspec.Struct, frozen=True, kw_only=True):
    """A DKIM signature of the mail that verified: its domain (``d=``) and the fields it
    signed (``h=``, lower-case, one name per instance, as listed)."""

    domain: str
    fields: tuple[str, ...]


class Signed(msgspec.Struct, frozen=True, kw_only=True):
    """What the marketplace vouches for in a mail: ``by``, the signing domain (None: the
    mail is nobody's in particular, the buyer's); ``automatic``, its automatic marks."""

    by: str | None = None
    automatic: bool = False


UNSIGNED = Signed()


def field_counts(names: Iterable[str]) -> dict[str, int]:
    """Each field name (lower-case) of a header block -> how many times it is present."""
    counts: dict[str, int] = {}
    for name in names:
        key = name.strip().lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


def doubled(counts: Mapping[str, int]) -> list[str]:
    """The fields allowed once that the mail carries more than once."""
    return sorted(name for name in SINGLE_FIELDS if counts.get(name, 0) > 1)


def covers(signature: MailSignature, counts: Mapping[str, int], names: Iterable[str]) -> bool:
    """Every instance of each of ``names`` is signed (DKIM signs from the bottom)."""
    return all(signature.fields.count(name) >= counts.get(name, 0) for name in names)


def of_domain(address: str | None, domain: str) -> bool:
    """The address is at ``domain`` or at a name under it."""
    host = (address or "").rpartition("@")[2].lower()
    return bool(host) and (host == domain or host.endswith("." + domain))


def claims_domain(address: str | None, domains: Iterable[str]) -> bool:
    """The From address is of one of the relay's signing domains: only then is a
    signature worth checking (a buyer's alias costs no DKIM check)."""
    return any(of_domain(address, domain) for domain in domains)


def vouched(
    *,
    sender: str | None,
    counts: Mapping[str, int],
    automatic: bool,
    signatures: Sequence[MailSignature],
    domains: frozenset[str],
) -> Signed:
    """What the marketplace vouches for: a signature of one of ``domains`` whose domain
    is the sender's and that covers every shown field; nothing when a field allowed once
    is doubled."""
    if doubled(counts):
        return UNSIGNED
    for signature in signatures:
        domain = signature.domain.lower()
        if domain not in domains or not of_domain(sender, domain):
            continue
        if covers(signature, counts, SHOWN_FIELDS) and counts.get("from", 0) == 1:
            return Signed(
                by=domain, automatic=automatic and covers(signature, counts, AUTOMATIC_FIELDS)
            )
    return UNSIGNED

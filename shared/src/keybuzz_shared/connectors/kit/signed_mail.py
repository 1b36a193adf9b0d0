"""Signed mail: a relayed mail's DKIM signatures verified, and what a signature covers
(``field_counts`` and ``doubled`` the poller's too: it counts a mail's fields as read)."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import dkim
import msgspec
from cachetools import TLRUCache

from keybuzz_shared.connectors.seam import ParsedMail

# A buyer's mail is the buyer's unless the marketplace signed it (docs/SECURITY.md, "A forged
# mail hidden as no response needed"). DKIM counts a field's instances from the bottom, so
# an instance above those signed is anyone's; a field allowed once present twice makes the
# mail the buyer's whatever signs it (the one signed and the one a reader shows may differ).

# Fields a mail carries at most once (RFC 5322 §3.6; RFC 3834's Auto-Submitted; MIME's).
SINGLE_FIELDS = frozenset(
    "from sender reply-to to cc subject date message-id in-reply-to references"
    " auto-submitted mime-version content-type content-transfer-encoding".split()
)
# What a reader shows of a mail (its writer, subject, how its body is read): every
# instance must be signed for the mail to be the marketplace's.
SHOWN_FIELDS = ("from", "sender", "reply-to", "subject", "content-type")
AUTOMATIC_FIELDS = ("auto-submitted",)


class MailSignature(msgspec.Struct, frozen=True, kw_only=True):
    """A signature that verified: ``d=`` and ``h=`` (one name per instance signed)."""

    domain: str
    fields: tuple[str, ...]


class Signed(msgspec.Struct, frozen=True, kw_only=True):
    """``by``: the signing domain (None: the buyer's mail); ``automatic``: its marks."""

    by: str | None = None
    automatic: bool = False


UNSIGNED = Signed()


def field_counts(names: Iterable[str]) -> dict[str, int]:
    return Counter(name.strip().lower() for name in names)


def doubled(counts: Mapping[str, int]) -> list[str]:
    return sorted(name for name in SINGLE_FIELDS if counts.get(name, 0) > 1)


def covers(signature: MailSignature, counts: Mapping[str, int], names: Iterable[str]) -> bool:
    """Every instance of each of ``names`` is signed (DKIM signs from the bottom)."""
    return all(signature.fields.count(name) >= counts.get(name, 0) for name in names)


def of_domain(address: str | None, domain: str) -> bool:
    host = (address or "").rpartition("@")[2].lower()
    return bool(host) and (host == domain or host.endswith("." + domain))


def vouched(mail: ParsedMail, domains: frozenset[str], keys: DkimKeys | None) -> Signed:
    """A signature of one of ``domains`` that is the From address's, covering every shown
    field (its automatic marks only where it covers them too); checked only when the From
    claims one of ``domains``: a buyer's alias costs no DKIM check."""
    sender, counts = mail.from_address, mail.field_counts
    if keys is None or doubled(counts) or counts.get("from", 0) != 1:
        return UNSIGNED
    if not any(of_domain(sender, domain) for domain in domains):
        return UNSIGNED
    for signature in keys.verified(mail.raw):
        domain = signature.domain.lower()
        if domain in domains and of_domain(sender, domain):
            if covers(signature, counts, SHOWN_FIELDS):
                automatic = mail.automatic and covers(signature, counts, AUTOMATIC_FIELDS)
                return Signed(by=domain, automatic=automatic)
    return UNSIGNED


# DNS in production; a sandbox double signs with a key of its own, given by a variable
# (``<MARKETPLACE>_DKIM_KEYS``: ``<selector>._domainkey.<domain>`` -> TXT record), never DNS.
# Records once given stay for the process.

# dkimpy's TXT lookup: the name (bytes), a timeout; the record's bytes, or None.
Lookup = Callable[..., bytes | None]

_lock = threading.Lock()
log = logging.getLogger(__name__)

_DKIM_SIGNATURE = re.compile(rb"^dkim-signature\s*:", re.IGNORECASE | re.MULTILINE)
# A marketplace signs once or twice; a mail carrying many signatures costs no more than
# this many checks.
MOST_SIGNATURES = 4


@functools.lru_cache(maxsize=8)
def read_keys(text: str) -> Mapping[str, str]:
    """Lower-case names, no final dot; ValueError for anything but a JSON object of strings.
    Decoded once a value, not once a mail (a test may change the variable)."""
    if not text.strip():
        return {}
    try:
        given = msgspec.json.decode(text.encode(), type=dict[str, str])
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a JSON object of DKIM records: {exc}") from None
    return {name.lower().rstrip("."): record for name, record in given.items()}


# DNS answers kept a while, bounded: a forger's made-up selectors cost one lookup each.
ANSWER_SECONDS = 3600.0
MISSING_SECONDS = 300.0
MOST_ANSWERS = 1024


def _kept_until(_name: bytes, found: bytes | None, now: float) -> float:
    return now + (ANSWER_SECONDS if found else MISSING_SECONDS)


class DkimKeys:
    """One marketplace's keys: its ``variable``'s records, else DNS."""

    answers = TLRUCache[bytes, bytes | None](MOST_ANSWERS, _kept_until, timer=time.monotonic)

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.given: dict[str, str] = {}

    def configure(self, text: str) -> None:
        """A service's settings' records (a test's service has them there, not in the
        environment); ValueError naming the variable: the service refuses to start."""
        try:
            records = read_keys(text)
        except ValueError as exc:
            raise ValueError(f"{self.variable}: {exc}") from None
        if records:
            with _lock:
                self.given.update(records)

    def records(self) -> dict[str, str]:
        with _lock:
            found = dict(self.given)
        return found | dict(read_keys(os.environ.get(self.variable, "")))

    @classmethod
    def from_dns(cls, name: bytes, timeout: float = 5) -> bytes | None:
        with _lock:
            if name in cls.answers:
                return cls.answers[name]
        found: bytes | None = dkim.dnsplug.get_txt(name, timeout)
        with _lock:
            cls.answers[name] = found
        return found

    def lookup(self) -> Lookup:
        given = self.records()
        if not given:
            return self.from_dns

        def from_given(name: bytes, timeout: float = 5) -> bytes | None:
            found = given.get(name.decode("ascii", "replace").lower().rstrip("."))
            return found.encode() if found is not None else None

        return from_given

    def verified(self, raw: bytes) -> list[MailSignature]:
        """A signature covering only part of the body (``l=``) does not count: text added
        below it would read as signed."""
        count = min(len(_DKIM_SIGNATURE.findall(raw)), MOST_SIGNATURES)
        found: list[MailSignature] = []
        lookup = self.lookup()
        for index in range(count):
            checker = dkim.DKIM(raw, minkey=1024, timeout=2)
            try:
                verified = checker.verify(idx=index, dnsfunc=lookup)
            except Exception as exc:  # dkimpy raises on malformed signatures and records
                log.info("a DKIM signature could not be checked", extra={"reason": str(exc)})
                continue
            fields = checker.signature_fields or {}
            if verified and b"l" not in fields and isinstance(checker.domain, bytes):
                signed = fields.get(b"h", b"").split(b":")
                found.append(
                    MailSignature(
                        domain=checker.domain.decode("ascii", "replace").lower(),
                        fields=tuple(n.strip().decode("ascii", "replace").lower() for n in signed),
                    )
                )
        return found

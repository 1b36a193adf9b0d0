"""Signed mail: a relayed mail's DKIM signatures verified against the sender domain's keys (from DNS or declared), and what a signature covers."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import dkim
import msgspec
from cachetools import TLRUCache

from keybuzz_shared.connectors.seam import ParsedMail

# --- signed mail ---------------------------------------------------------------------------
# Whether a relay mail is its marketplace's own (docs/SECURITY.md, "A forged mail hidden
# as no response needed"): a buyer's mail is the buyer's unless the marketplace signed it.
#
# A mail is the marketplace's when a DKIM signature of one of the relay's signing domains
# verifies (``vouched``), the From address is of that domain (or under it),
# and the signature covers every instance of the fields that say who wrote the mail and
# what it shows. DKIM counts a field's instances from the bottom (its ``h=`` tag lists one
# name per instance signed), so an instance above those it signed is anyone's: a field
# present more times than ``h=`` names it is not covered. A field RFC 5322 allows once that
# is present twice makes the mail the buyer's whatever signs it (which of the two the
# signature covers, and which a reader shows, differ). Its automatic marks
# (``Auto-Submitted``) count only when the same signature covers them.

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


def vouched(mail: ParsedMail, domains: frozenset[str], keys: DkimKeys | None) -> Signed:
    """What the marketplace vouches for in ``mail``: a signature that verifies with ``keys``,
    of one of ``domains`` that is the From address's, covering every shown field; nothing
    when a field allowed once is doubled. Signatures are checked only when the From claims
    one of ``domains`` (a buyer's alias costs no DKIM check)."""
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


# --- dkim keys -----------------------------------------------------------------------------
# Where the DKIM keys of the mails claiming to be a marketplace's come from: DNS in
# production (dkimpy's lookup), or the records a variable gives (``<MARKETPLACE>_DKIM_KEYS``,
# a JSON object of ``<selector>._domainkey.<domain>`` -> its TXT record): a sandbox double
# signs with a key of its own, and tests hand its record here, never DNS.
#
# A service's settings give the variable (``configure``: a service run in a test's process
# has it in its settings, not in the process's environment); the process's environment
# gives it too, decoded once for its value, not for each mail. Records once given stay for
# the process: no later reading of settings without them takes them back. One ``DkimKeys``
# per marketplace's variable; the DNS answers are kept once for all.

# A TXT lookup as dkimpy asks it: the name (bytes, with or without its final dot), then
# a timeout in seconds; the record's bytes, or None when there is none.
Lookup = Callable[..., bytes | None]

_lock = threading.Lock()
log = logging.getLogger(__name__)

_DKIM_SIGNATURE = re.compile(rb"^dkim-signature\s*:", re.IGNORECASE | re.MULTILINE)
# A marketplace signs once or twice; a mail carrying many signatures costs no more than
# this many checks.
MOST_SIGNATURES = 4


def read_keys(text: str) -> Mapping[str, str]:
    """The records a variable's value gives (lower-case names, no final dot); ValueError
    when it is not a JSON object of strings."""
    if not text.strip():
        return {}
    try:
        given = msgspec.json.decode(text.encode(), type=dict[str, str])
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a JSON object of DKIM records: {exc}") from None
    return {name.lower().rstrip("."): record for name, record in given.items()}


@functools.lru_cache(maxsize=8)
def environment_records(text: str) -> Mapping[str, str]:
    """The records of the environment's value ``text``: decoded once for a value, as each
    signed mail asks (a test may change the variable; a process keeps one)."""
    return read_keys(text)


# DNS answers kept a while: a key is asked once an hour, not once a mail, and a mail
# naming selectors of its own (a forger's) costs at most one lookup each, the least
# recently used answers dropped past the bound.
ANSWER_SECONDS = 3600.0
MISSING_SECONDS = 300.0
MOST_ANSWERS = 1024


def new_answers() -> TLRUCache[bytes, bytes | None]:
    """An empty store of DNS answers, each kept as long as its kind says."""

    def until(_name: bytes, found: bytes | None, now: float) -> float:
        return now + (ANSWER_SECONDS if found else MISSING_SECONDS)

    return TLRUCache(maxsize=MOST_ANSWERS, ttu=until, timer=time.monotonic)


class DkimKeys:
    """The key source of one marketplace's mails: the records its ``variable`` gives, else
    DNS (``from_dns``)."""

    answers: TLRUCache[bytes, bytes | None] = new_answers()

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.given: dict[str, str] = {}

    def configure(self, text: str) -> None:
        """Adds the records of the variable's value (from a service's settings); ValueError
        naming the variable for a value that is not records (a service refuses to start)."""
        try:
            records = read_keys(text)
        except ValueError as exc:
            raise ValueError(f"{self.variable}: {exc}") from None
        if records:
            with _lock:
                self.given.update(records)

    def records(self) -> dict[str, str]:
        """The records given to this process: its settings', then its environment's."""
        with _lock:
            found = dict(self.given)
        return found | dict(environment_records(os.environ.get(self.variable, "")))

    @classmethod
    def from_dns(cls, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's TXT lookup, its answers (a missing record too) kept for a while."""
        with _lock:
            if name in cls.answers:
                return cls.answers[name]
        found: bytes | None = dkim.dnsplug.get_txt(name, timeout)
        with _lock:
            cls.answers[name] = found
        return found

    def lookup(self) -> Lookup:
        """The records given, when there are any; else DNS (``from_dns``)."""
        given = self.records()
        if not given:
            return self.from_dns

        def from_given(name: bytes, timeout: float = 5) -> bytes | None:
            found = given.get(name.decode("ascii", "replace").lower().rstrip("."))
            return found.encode() if found is not None else None

        return from_given

    def verified(self, raw: bytes) -> list[MailSignature]:
        """The mail's DKIM signatures that verify with these keys (domain ``d=``, fields
        ``h=``): the signed headers (From among them, dkimpy requires it) and the whole body
        as received. A signature covering only part of the body (``l=``) does not count:
        text added below it would read as signed."""
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

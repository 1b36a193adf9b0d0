"""Where the DKIM keys of the mails claiming to be a marketplace's come from: DNS in
production (dkimpy's lookup), or the records a variable gives (``<MARKETPLACE>_DKIM_KEYS``,
a JSON object of ``<selector>._domainkey.<domain>`` -> its TXT record): a sandbox double
signs with a key of its own, and tests hand its record here, never DNS.

A service's settings give the variable (``configure``: a service run in a test's process
has it in its settings, not in the process's environment); the process's environment
gives it too, decoded once for its value, not for each mail. Records once given stay for
the process: no later reading of settings without them takes them back. One ``DkimKeys``
per marketplace's variable; the DNS answers are kept once for all."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping

import dkim
import msgspec
from cachetools import TLRUCache

# A TXT lookup as dkimpy asks it: the name (bytes, with or without its final dot), then
# a timeout in seconds; the record's bytes, or None when there is none.
Lookup = Callable[..., bytes | None]

_lock = threading.Lock()


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
        """Adds the records of the variable's value (from a service's settings)."""
        records = read_keys(text)
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

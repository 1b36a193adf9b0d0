"""Where the DKIM keys of the mails claiming to be ManoMano's come from: DNS in
production (dkimpy's lookup), or the records ``MANOMANO_DKIM_KEYS`` gives (a JSON object
of ``<selector>._domainkey.<domain>`` -> its TXT record): the sandbox's double signs with
a key of its own, and tests hand its record here, never DNS.

A service's settings give the variable (``ManoManoSettings``, which hands its records
here when it is loaded: a service run in a test's process has it in its settings, not in
the process's environment); the process's environment gives it too, decoded once for its
value, not for each mail. Records once given stay for the process: no later reading of
settings without them takes them back."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping

import dkim
import msgspec
from cachetools import TLRUCache

DKIM_KEYS_VARIABLE = "MANOMANO_DKIM_KEYS"
# A TXT lookup as dkimpy asks it: the name (bytes, with or without its final dot), then
# a timeout in seconds; the record's bytes, or None when there is none.
Lookup = Callable[..., bytes | None]

_given: dict[str, str] = {}
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


def configure(text: str) -> None:
    """Adds the records of a ``MANOMANO_DKIM_KEYS`` value (from a service's settings)."""
    records = read_keys(text)
    if records:
        with _lock:
            _given.update(records)


@functools.lru_cache(maxsize=4)
def environment_records(text: str) -> Mapping[str, str]:
    """The records of the environment's value ``text``: decoded once for a value, as each
    signed mail asks (a test may change the variable; a process keeps one)."""
    return read_keys(text)


def records() -> dict[str, str]:
    """The records given to this process: its settings', then its environment's."""
    with _lock:
        found = dict(_given)
    return found | dict(environment_records(os.environ.get(DKIM_KEYS_VARIABLE, "")))


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


_answers = new_answers()


def from_dns(name: bytes, timeout: float = 5) -> bytes | None:
    """dkimpy's TXT lookup, its answers (a missing record too) kept for a while."""
    with _lock:
        if name in _answers:
            return _answers[name]
    found: bytes | None = dkim.dnsplug.get_txt(name, timeout)
    with _lock:
        _answers[name] = found
    return found


def lookup() -> Lookup:
    """The records given, when there are any; else DNS (``from_dns``)."""
    given = records()
    if not given:
        return from_dns

    def from_given(name: bytes, timeout: float = 5) -> bytes | None:
        found = given.get(name.decode("ascii", "replace").lower().rstrip("."))
        return found.encode() if found is not None else None

    return from_given

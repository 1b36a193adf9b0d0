"""Deterministic draws every double's data is made of: the same parts (the sandbox's seed,
a shop, an index) give the same bytes, number, generator or id on every run, so that a
double's shops, orders and messages are the same after a restart."""

from __future__ import annotations

import hashlib
import random
import uuid


def digest(*parts: object, size: int = 8) -> bytes:
    """``size`` bytes fixed by ``parts`` (joined by ``|``)."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=size).digest()


def rng(*parts: object) -> random.Random:
    """A random generator seeded by ``parts``."""
    return random.Random(int.from_bytes(digest(*parts), "big"))


def unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return int.from_bytes(digest(*parts), "big") / 2**64


def numeric_id(*parts: object, digits: int = 12) -> str:
    """An id of ``digits`` digits fixed by ``parts``, not starting with 0."""
    low = 10 ** (digits - 1)
    return str(low + int.from_bytes(digest(*parts), "big") % (9 * low))


def uuid_of(*parts: object) -> str:
    """A UUID fixed by ``parts`` (lower-case, as most marketplaces write them)."""
    return str(uuid.UUID(bytes=digest(*parts, size=16)))


def file_bytes(file_id: str, name: str, size: int) -> bytes:
    """A seeded file's ``size`` bytes, made from its id and name (nothing stored): the same
    bytes every time it is downloaded."""
    pattern = f"{file_id}:{name}\n".encode()
    return (pattern * (size // len(pattern) + 1))[:size]

"""What counts as a secret, and how it is masked: one rule for logs, settings and
views of other services' rows.

A leaf module (it imports nothing of ours), so logging, tracing and settings can
all use it without importing each other.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import is_dataclass
from typing import Any
from urllib.parse import ParseResult, SplitResult, quote, quote_plus

import msgspec

REDACTED = "[REDACTED]"

# A name is a secret's when, lower-cased and without separators (refresh_token,
# refreshToken, Refresh-Token → refreshtoken), it ends with one of these words:
# lwa_refresh_token, X-Amz-Access-Token, VAULT_TOKEN, client_secret, vault_secret_id,
# internal_api_key, X-Internal-Key, spapi_oauth_code, smtp_password, Authorization, and
# pwd: a query string's password or token (a seller web service may carry its token so).
_SECRET_ENDINGS = (
    "token",
    "secret",
    "secretid",
    "password",
    "pwd",
    "apikey",
    "internalkey",
    "authorization",
    "oauthcode",
)
# Marketplaces' pagination cursors may be called tokens but open nothing: shown as they are.
_PUBLIC_TOKENS = frozenset({"nexttoken", "pagetoken", "continuationtoken"})
_SEPARATORS = re.compile(r"[^a-z0-9]")


def is_secret_name(name: str) -> bool:
    """A field, setting or column named like a secret is masked whole, whatever its value."""
    normalized = _SEPARATORS.sub("", name.lower())
    return normalized.endswith(_SECRET_ENDINGS) and normalized not in _PUBLIC_TOKENS


# scheme://user:password@host, whatever the scheme (postgresql, nats, tls, https, smtp…):
# the password is masked, the user and host stay readable. It runs up to the last "@" before
# the path: a password holding "@" or ":" (left unencoded) is masked whole; "/" ends it, so
# each URL of a comma-separated cluster list (nats://a:p@h1,nats://a:q@h2) is its own match.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:'\"<>]*):[^\s/'\"<>]*@")

# name=value, name: value, "name": "value" (query strings, JSON, headers, exception texts):
# the value is masked when is_secret_name(name). Already masked values are left alone
# ("Authorization: Bearer [REDACTED]" stays so).
_NAMED_VALUE = re.compile(
    r"\b(?P<name>[\w.-]++)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?!\[REDACTED\]|(?i:bearer|basic)\s)[^\s\"'&,;}]+)"
)
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_URL_PASSWORD, r"\1:" + REDACTED + "@"),
    # LWA access/refresh tokens and restricted data tokens: Atza|…, Atzr|…, Atz.sprdt|…
    (re.compile(r"Atz[a-z.]*\|[^\s\"'&,;}]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    # hvac / OpenBao service tokens (s.…, hvs.…) and our dev root token.
    (re.compile(r"\b(?:hvs|hvb|s)\.[A-Za-z0-9]{20,}"), REDACTED),
)


def _mask_named_value(match: re.Match[str]) -> str:
    if is_secret_name(match["name"]):
        return f"{match['name']}{match['sep']}{REDACTED}"
    # not a secret's name, but its value may hold one: error: password=…
    return match["name"] + match["sep"] + _NAMED_VALUE.sub(_mask_named_value, match["value"])


def redact_text(text: str) -> str:
    """Mask secret-looking values in free text: URL passwords, tokens, bearer credentials,
    values named like secrets (``password=…``, ``"client_secret": "…"``), and the secrets
    of the current ``secret_scope`` in any form."""
    text = _known_in_scope(text)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _NAMED_VALUE.sub(_mask_named_value, text)


def redact_value(value: Any, key: str | None = None) -> Any:
    """Mask secrets inside any JSON-like value; keys named like secrets are masked whole."""
    if key is not None and is_secret_name(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, msgspec.Struct) or is_dataclass(value):
        # A token response or settings object passed as a field: look inside it.
        value = msgspec.to_builtins(value, str_keys=True, enc_hook=repr)
    if isinstance(value, SplitResult | ParseResult):  # a parsed URL (nats-py's connected_url)
        value = value.geturl()
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value(v) for v in value]
    return value


# --- Secrets known by value: every form a remote may send one back in ---------------------

# A value this short is no credential worth the name, and masking it everywhere would mask
# ordinary words and numbers: the credentials we hold are 16 characters and more.
MIN_SECRET_CHARS = 8
_BASE64_ALPHABETS = (b"+/", b"-_")  # standard, URL-safe


def _embedded_base64(raw: bytes) -> set[str]:
    """What base64 of ``raw`` looks like inside any longer base64 (``Basic id:secret``): at
    each of the three alignments, the characters that depend on ``raw``'s bits only."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw)
        first = -(-8 * offset // 6)  # the first character whose 6 bits are all raw's
        last = 8 * (offset + len(raw)) // 6  # one past the last such character
        for alphabet in _BASE64_ALPHABETS:
            forms.add(encoded.translate(bytes.maketrans(b"+/", alphabet))[first:last].decode())
    return forms


def secret_forms(secret: str) -> tuple[set[str], set[str]]:
    """The forms of ``secret`` to mask: those matched in any case (as sent, upper- or
    lower-cased, percent-, hex-, JSON- or HTML-escaped) and those matched exactly (base64,
    standard or URL-safe, padded or not, alone or inside a longer base64)."""
    raw = secret.encode()
    anycase = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        raw.hex(),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        html.escape(secret),
    }
    exact = _embedded_base64(raw)
    return {f for f in anycase if f}, {f for f in exact if f}


class KnownSecrets:
    """Masks given secret values in text, in every form of ``secret_forms``: what a remote's
    error may echo of the key we sent it (case changed, encoded, inside a Basic pair)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        fresh = {s for s in secrets if len(s) >= MIN_SECRET_CHARS} - self._secrets
        if fresh:
            self._secrets |= fresh
            self._pattern = None

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        if not self._secrets:
            return text
        if self._pattern is None:
            self._pattern = self._compiled()
        return self._pattern.sub(REDACTED, text)

    def _compiled(self) -> re.Pattern[str]:
        anycase: set[str] = set()
        exact: set[str] = set()
        for secret in self._secrets:
            loose, strict = secret_forms(secret)
            anycase |= loose
            exact |= strict

        def alternation(forms: set[str]) -> str:
            return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))

        return re.compile(f"(?i:{alternation(anycase)})|{alternation(exact)}")


_scope: ContextVar[KnownSecrets | None] = ContextVar("keybuzz_known_secrets", default=None)


@contextlib.contextmanager
def secret_scope(*secrets: str) -> Iterator[KnownSecrets]:
    """While it lasts (in this task and the tasks it starts), ``redact_text`` — so every log
    line, and every error text recorded through it — masks the secrets given here and those
    ``remember_secrets`` adds (a credential read from Vault), in any form a remote echoes."""
    known = KnownSecrets(secrets)
    token = _scope.set(known)
    try:
        yield known
    finally:
        _scope.reset(token)


def remember_secrets(secrets: Iterable[str]) -> None:
    """Secrets just read or typed, masked from now on in the current ``secret_scope``."""
    known = _scope.get()
    if known is not None:
        known.add(secrets)


def _known_in_scope(text: str) -> str:
    known = _scope.get()
    return known.redact(text) if known else text


# --- A remote's free text: anything shaped like a token masked, whatever it encodes ------------

# What a marketplace (or any remote) says in an error is kept only as an excerpt in which
# anything shaped like a token is masked. Listing the forms of the secret we sent cannot
# end (reversed, spaced out, entity-encoded, base64 of its upper case…); the shape of such
# material can be told: a secret in any of its forms stays high-entropy material, words of
# a natural language and short codes do not. docs/SECURITY.md, "A remote's free text".
MASK = "…"
EXCERPT_CHARS = 120  # of a remote's text, at most this much is kept (after masking)

# A unit: letters, digits and the characters encodings are made of (base64's + = - _,
# percent and entity escapes, JSON's backslash escapes, dots and tildes). A "/" ends one,
# so each segment of a path is judged on its own. A fragment: a unit's run of alphanumerics.
_UNIT = re.compile(r"[\w+=.~%&#;\\-]+")
_FRAGMENT = re.compile(r"[^\W_]+")
# Escapes no sentence is written in: two percent escapes, an HTML character reference, a
# JSON or Python escape of a character.
_ESCAPED = re.compile(
    r"%[0-9A-Fa-f]{2}.*%[0-9A-Fa-f]{2}|&#[xX]?[0-9A-Fa-f]+|\\[uUx][0-9A-Fa-f]{2}", re.S
)
# Fragments too short to judge alone, one to three separators apart, on one line: what a
# token split, spaced out or dashed looks like (judged by _is_split_token).
_SHORT = r"(?<![^\W_])[^\W_]{1,7}(?![^\W_])"
_SHORT_RUN = re.compile(rf"{_SHORT}(?:(?:[^\w\n]|_){{1,3}}{_SHORT}){{2,}}")
_CONSONANTS = re.compile(r"[^\W\d_aeiouyAEIOUY]{5,}")
MIN_TOKEN_CHARS = 8  # a unit shorter than this (E1001, ERR_42, M11) is a code, kept
_LONGEST_WORD = 24
_DIGITS_RUN = 10  # an id, a phone number, a decimal encoding


def _mixes_digits_and_letters(fragment: str) -> bool:
    return any(c.isdigit() for c in fragment) and any(c.isalpha() for c in fragment)


def _random_looking(fragment: str) -> bool:
    """Digits and letters mixed, a capital inside small letters (``aBc``, ``AKKo``; a
    brand's ``iPhone`` too: one alone does not mask), or five letters and more without a
    vowel (a word of that length has one)."""
    if _mixes_digits_and_letters(fragment):
        return True
    if not fragment.isalpha():
        return False
    inner_capital = not fragment.isupper() and any(c.isupper() for c in fragment[1:])
    voweless = len(fragment) >= 5 and not any(c in "aeiouy" for c in fragment.lower())
    return inner_capital or voweless


def _is_token_fragment(fragment: str) -> bool:
    """A run no word is shaped like: letters of a random case (more than two capitals
    inside it), longer than any word, five consonants in a row in a long one, or a long
    run of digits."""
    if fragment.isdigit():
        return len(fragment) >= _DIGITS_RUN
    if not fragment.isalpha() or len(fragment) < MIN_TOKEN_CHARS:
        return False
    if len(fragment) > _LONGEST_WORD:
        return True
    inner_capitals = sum(c.isupper() for c in fragment[1:])
    if inner_capitals > 2 and not fragment.isupper():
        return True
    vowels = sum(c in "aeiouyAEIOUY" for c in fragment)
    if len(fragment) >= 10 and vowels < len(fragment) / 4:
        return True
    return len(fragment) >= 12 and _CONSONANTS.search(fragment) is not None


def _is_token_unit(unit: str) -> bool:
    if _ESCAPED.search(unit):
        return True
    fragments = _FRAGMENT.findall(unit)
    if sum(map(len, fragments)) >= MIN_TOKEN_CHARS and any(
        _mixes_digits_and_letters(f) for f in fragments
    ):
        return True
    return any(_is_token_fragment(f) for f in fragments)


def _is_split_token(run: str) -> bool:
    """Short fragments that together make a token: two or more of them mixing digits and
    letters or of a random case (a key cut in pieces), or four single characters in a row
    (spaced out)."""
    fragments = _FRAGMENT.findall(run)
    if sum(_random_looking(f) for f in fragments) >= 2:
        return True
    singles = 0
    for fragment in fragments:
        singles = singles + 1 if len(fragment) == 1 else 0
        if singles >= 4:
            return True
    return False


def _plain(text: str) -> str:
    """One line of text as it reads: compatibility forms folded (full-width letters are
    letters), invisible characters (zero-width, bidi marks) removed, control characters
    and line breaks made spaces."""
    # MASK kept as it is: NFKC would make it three dots (a text masked twice stays so).
    folded = MASK.join(unicodedata.normalize("NFKC", part) for part in text.split(MASK))
    kept = (" " if unicodedata.category(c) == "Cc" else c for c in folded)
    return "".join(c for c in kept if unicodedata.category(c) != "Cf")


def mask_tokens(text: str) -> str:
    """``text`` with anything shaped like a token or an encoding of one replaced by
    ``MASK``: a unit of 8 or more letters and digits mixing both, one holding escapes
    (percent, HTML character references, JSON's), a run of letters of a random case or of
    no word's length, 10 digits or more, and short pieces that together make such a unit
    (split, dashed, spaced out). Words ("Invalid API key"), numbers (HTTP 401) and short
    codes (ERR_101, E1001) are kept."""
    plain = _plain(text)
    masked = _UNIT.sub(lambda m: MASK if _is_token_unit(m[0]) else m[0], plain)
    return _SHORT_RUN.sub(lambda m: MASK if _is_split_token(m[0]) else m[0], masked)


def remote_excerpt(text: str, chars: int = EXCERPT_CHARS) -> str:
    """What is kept of a remote's free text (an error's message, a reason): the known
    secrets of the scope and anything shaped like a token masked, then shortened."""
    masked = mask_tokens(redact_text(text)).strip()
    return masked if len(masked) <= chars else masked[: chars - 1].rstrip() + MASK

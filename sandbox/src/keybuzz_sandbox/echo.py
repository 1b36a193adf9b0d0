"""A marketplace that repeats in its refusal the shop's credential, transformed: some APIs
quote the key back ("invalid key ABC…"), upper-cased, base64-encoded, as the Basic pair,
percent- or hex-encoded; a hostile or careless one reversed, spaced out, cut in pieces,
escaped character by character (percent, HTML, JSON), ROT13 or base32. ``ALL`` echoes
every form at once, one after the other in the same refusal. Armed for every shop-API
double at once by
``PUT /_sandbox/echo-secret {"form": …, "refuse": false}`` (cleared by ``DELETE``): each
double appends ``EchoSecret.of(the credential sent)`` to its authentication refusals, and
with ``refuse`` it also refuses every authenticated call (400) with a reason quoting the
shop's secret. The conformance suite checks that no form of a shop's secret then reaches
an answer, a row or a log line."""

from __future__ import annotations

import base64
import codecs
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Response, delete, put
from litestar.params import JSONBody

# In the order ALL echoes them: a text shortened keeps its start, so the forms a mask by
# value did not know (of a secret's value: ``redaction.KnownSecrets``) come first.
FORMS: dict[str, Callable[[str], str]] = {
    "reversed": lambda s: s[::-1],
    "rot13": lambda s: codecs.encode(s, "rot13"),
    "split-in-four": lambda s: " | ".join(_split(s, -(-len(s) // 4))),
    "dashed-every-4": lambda s: "-".join(_split(s, 4)),
    "base64-upper": lambda s: base64.b64encode(s.upper().encode()).decode(),
    "spaced": " ".join,
    "base32": lambda s: base64.b32encode(s.encode()).decode(),
    "percent-every-char": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
    "html-decimal": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "html-hex": lambda s: "".join(f"&#x{ord(c):x};" for c in s),
    "json-unicode": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "as-sent": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64url": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    "hex": lambda s: s.encode().hex(),
    "percent": lambda s: quote(s, safe=""),
    "basic": lambda s: "Basic " + base64.b64encode(f"shop:{s}".encode()).decode(),
}


ALL = "all"  # every form of FORMS, in one refusal


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class EchoRequest(msgspec.Struct, forbid_unknown_fields=True):
    form: str
    refuse: bool = False


class EchoSecret:
    def __init__(self) -> None:
        self.form: str | None = None
        self.refusing = False  # every authenticated call refused, quoting the shop's secret

    def refusal(self, secret: str) -> str | None:
        """The reason an authenticated call is refused with, when ``refusing``."""
        return f"invalid request for this shop{self.of(secret)}" if self.refusing else None

    def of(self, sent: str) -> str:
        """What the refusal adds: nothing, or the credential sent, in the armed form."""
        if self.form is None or not sent:
            return ""
        if self.form == ALL:
            return "".join(f" (received: {echo(sent)})" for echo in FORMS.values())
        return f" (received: {FORMS[self.form](sent)})"


def echo_routes(echo: EchoSecret) -> list[Any]:
    @put("/echo-secret", sync_to_thread=False)
    def arm(data: JSONBody[EchoRequest]) -> Response[dict[str, str]]:
        if data.form not in FORMS and data.form != ALL:
            forms = ", ".join([*FORMS, ALL])
            return Response({"error": f"form must be one of {forms}"}, status_code=400)
        echo.form, echo.refusing = data.form, data.refuse
        return Response({"form": data.form})

    @delete("/echo-secret", sync_to_thread=False, status_code=204)
    def clear() -> None:
        echo.form, echo.refusing = None, False

    return [arm, clear]

"""A web application firewall in front of a marketplace's API, as the kit's ``Refusals``
reads its challenge (``Refusals.held``): a 403 that is the firewall's page (HTML where the
API answers JSON, or a ``server: cloudflare`` answer), or whose JSON ``errors`` name the
challenge's code. It says nothing of the call or the credentials: the shop is held and
the call tried again later, never read as credentials revoked; another 403 is the
marketplace's refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from keybuzz_shared.connectors.kit import Refusals


def challenge_held(
    label: str, seconds: float, codes: tuple[str, ...] = ()
) -> Callable[[httpx.Response, Any], Refusals.Held | None]:
    """``Refusals.held`` of ``label``'s firewall: its challenge holds the shop ``seconds``
    (the firewall says neither why nor for how long); ``codes``: the challenge's codes in
    a JSON answer's ``errors``."""

    def held(response: httpx.Response, document: Any) -> Refusals.Held | None:
        if response.status_code != 403:
            return None
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        errors = document.get("errors") if isinstance(document, dict) else None
        coded = isinstance(errors, list) and any(
            isinstance(e, dict) and e.get("code") in codes for e in errors
        )
        page = media == "text/html" or response.headers.get("server", "").lower() == "cloudflare"
        reason = f"HTTP 403 from {label}'s firewall (challenge); held and retried later"
        return Refusals.Held(seconds, reason) if coded or page else None

    return held

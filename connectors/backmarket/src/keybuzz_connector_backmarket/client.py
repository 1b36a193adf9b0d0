"""Back Market's seller API for one shop, declared for the kit's requester.

Every call carries the shop's token (``Authorization: Basic <token>``, the token as the
seller created it in its back office), ``Accept-Language`` (the shop's country code) and
the ``User-Agent`` Back Market requires (``BM-{Company}-{Integration};contact@domain``).
The web application firewall's 403 (Cloudflare's HTML page, or bot management's JSON
``bot-need-challenge``) says nothing of the token: it is held (the shop retried later),
never read as credentials revoked; 401 is the token refused. Files are links to a file
host, asked without the token. Retries, deadlines, sends never repeated and the seam's
errors are the requester's (keybuzz_shared.connectors.kit). Details: docs/BACKMARKET.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Unpack

import httpx
from keybuzz_shared.connectors.kit import (
    ApiSpec,
    CallErrors,
    HeaderAuth,
    Held,
    Refusals,
    Requester,
    RequesterOptions,
)

# Any answer is refused past this size, unread: a care folder with its messages is some
# tens of kB, a page of 50 orders some hundreds.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# The firewall says neither why nor for how long [official]: its page's own cache life is
# 15 s; the shop is polled again after this.
WAF_HOLD_SECONDS = 60.0
WAF_CODE = "bot-need-challenge"


def _firewall(response: httpx.Response, document: Any) -> Held | None:
    """The firewall's 403: an HTML page (Cloudflare's), or bot management's JSON."""
    if response.status_code != 403:
        return None
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    errors = document.get("errors") if isinstance(document, dict) else None
    challenged = isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == WAF_CODE for e in errors
    )
    if media == "text/html" or response.headers.get("server", "").lower() == "cloudflare":
        challenged = True
    reason = "HTTP 403 from Back Market's firewall (challenge); held and retried later"
    return Held(WAF_HOLD_SECONDS, reason) if challenged else None


ERRORS = CallErrors.labelled("Back Market", credentials="token")
FOLDER_LIST = "GET ws/sav"  # the call Back Market allows 4,000 a day [official]
SPEC = ApiSpec(
    "Back Market",
    logging.getLogger(__name__),
    ERRORS,
    Refusals(held=_firewall),
    max_response_bytes=MAX_RESPONSE_BYTES,
    allowance_call=FOLDER_LIST,
)


@dataclass(frozen=True)
class ShopAccess:
    """What a shop's calls carry: its token, its country code (``Accept-Language``) and
    the integration's ``User-Agent``."""

    token: str
    country: str
    user_agent: str

    def __repr__(self) -> str:
        return f"ShopAccess(token=[REDACTED], country={self.country!r})"


def shop_client(
    access: ShopAccess, http: httpx.AsyncClient, base_url: str, **options: Unpack[RequesterOptions]
) -> Requester:
    """One shop's calls on the platform at ``base_url`` (``https://www.backmarket.fr``);
    ``files``: the hosts its messages' files may be fetched from (``get_bytes``), links to
    Back Market's file host [official: "URL of the attachment"] asked without the token."""
    headers = {
        "Authorization": f"Basic {access.token}",
        "Accept-Language": access.country,
        "User-Agent": access.user_agent,
    }
    auth = HeaderAuth(headers, secrets=(access.token,))
    return Requester(SPEC, auth, http, base_url, shop={"country": access.country}, **options)


def results_page(call: str, body: Any) -> tuple[list[Any], bool]:
    """A list page's ``results``, and whether Back Market says a next page follows
    (``next``); CallAnswerUnreadable for an answer without them."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ERRORS.unreadable(call, "no list of results in the page")
    return body["results"], bool(body.get("next"))

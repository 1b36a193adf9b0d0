"""Fnac/Darty seller API client: one shop, its token, typed errors, on the kit's requester.

Every call is ``POST <base_url><service>`` with one XML document, its query declared in
models.py and written by the kit (``xml_structs.request``). ``authenticate``
trades partner_id/shop_id/key for a token that every later request carries as a root
attribute; Fnac publishes no token lifetime, so a call refused for its token
re-authenticates once and is sent again (the kit's ``LoginToken``: one login for every
caller that found the token refused at once). Retries, a ``Retry-After`` obeyed, a reply
never sent twice, the XML guard and the size cap are the kit's ``Requester``'s; an answer's
envelope (its status and ``ERR_…`` codes) is read by ``REFUSALS``, the table below, into
Fnac's typed errors. Details and assumptions: docs/FNAC.md.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors.kit import (
    ApiSpec,
    CallErrors,
    LoginToken,
    Refusals,
    Requester,
    RequesterOptions,
)
from keybuzz_shared.connectors.kit.xml_requests import carried
from keybuzz_shared.connectors.kit.xml_structs import request

from keybuzz_connector_fnac import xml
from keybuzz_connector_fnac.models import (
    AuthToken,
    FnacCredentialsRefused,
    FnacOutcomeUnknown,
    FnacProtocolError,
    FnacRequestRefused,
    FnacUnavailable,
    IncidentsPage,
    IncidentsQuery,
    MessagesPage,
    MessagesQuery,
    MessagesUpdate,
    MessageUpdate,
    MessageUpdateResult,
    OrdersPage,
    OrdersQuery,
)

log = logging.getLogger(__name__)

# Actions that send something to a buyer or Fnac: never repeated once the request left.
SENDING_ACTIONS = frozenset({"reply", "create"})
# Fnac publishes no list of its codes; these are the sandbox double's (docs/SANDBOX.md).
# "Authenticate again": this code, or an error whose text speaks of the token.
TOKEN_REFUSED_CODES = frozenset({"ERR_002"})
LOGIN = "auth"  # the service that trades the shop's key for a token

# A messages_query answer is capped in proportion to the page asked: a message is some
# KB of text (an assumption: Fnac publishes no limit) and a few file links, so 64 KiB
# each plus the envelope is ample; a 100-message page is then at most 6.3 MiB.
MESSAGE_BYTES = 64 * 1024
ENVELOPE_BYTES = 64 * 1024

# What a Fnac message carries of a text (XML's characters only): a reply's text is made so
# before it is queued and compared so when it is read back.
carried_text = carried


class FnacCredentials(msgspec.Struct, frozen=True):
    """A shop's credentials, as auth's request holds them."""

    partner_id: str
    shop_id: str
    key: str

    def __repr__(self) -> str:
        return f"FnacCredentials(partner_id={self.partner_id!r}, shop_id={self.shop_id!r}, key=[REDACTED])"


def _token_refused(response: httpx.Response, document: Any) -> bool:
    """A 401 or 403, or an envelope whose code or text says the token."""
    if not isinstance(document, xml.Answer):
        return response.status_code in (401, 403)
    codes = {error.code for error in document.errors}
    return bool(codes & TOKEN_REFUSED_CODES) or any(
        "token" in error.text.lower() for error in document.errors
    )


def _refused(call: str, status: int, document: Any) -> Exception:
    """Fnac's error for a refusal: its envelope's status and codes kept; a refused login
    is the shop's credentials refused."""
    if isinstance(document, xml.Answer):
        if call == LOGIN:
            return FnacCredentialsRefused("", document.errors)
        return FnacRequestRefused(call, document.status, document.errors)
    if call == LOGIN and status in (401, 403):
        return FnacCredentialsRefused(f"HTTP {status}")
    return FnacRequestRefused(call, f"HTTP {status}", ())


SPEC = ApiSpec(
    "Fnac",
    log,
    CallErrors(
        unavailable=FnacUnavailable,
        unreadable=lambda _service, reason: FnacProtocolError(reason),
        outcome_unknown=FnacOutcomeUnknown,
        refused=lambda service, status, _detail: FnacRequestRefused(service, f"HTTP {status}", ()),
        credentials_refused=FnacCredentialsRefused,
    ),
    Refusals(credentials=frozenset({401, 403}), expired=_token_refused, error=_refused),
    max_response_bytes=xml.MAX_RESPONSE_BYTES,
    answers=xml.ANSWERS,
)


class FnacClient(Requester):
    """One shop's calls (``options``: the requester's; ``files``, where its messages'
    files may be fetched from)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        credentials: FnacCredentials,
        **options: Unpack[RequesterOptions],
    ) -> None:
        self.credentials = credentials
        # The token, kept until Fnac refuses it, renewed once for every caller at once.
        self.tokens = LoginToken(
            self._login, lambda grant: grant.token, carry=self._carried, secrets=[credentials.key]
        )
        shop = {"shop_id": credentials.shop_id}
        super().__init__(SPEC, self.tokens, http, base_url, shop=shop, **options)

    @property
    def authenticated(self) -> bool:
        return self.tokens.granted is not None

    async def authenticate(self) -> AuthToken:
        """Gets a token and keeps it; FnacCredentialsRefused when the shop's key is refused."""
        return await self.tokens.authenticate()

    async def _login(self) -> AuthToken:
        return xml.read_auth((await self._service(LOGIN, self.credentials, login=True)).root)

    def _carried(self, token: str) -> dict[str, str]:
        """What a request carries of the token: its root's attributes."""
        creds = self.credentials
        return {"partner_id": creds.partner_id, "shop_id": creds.shop_id, "token": token}

    async def messages_query(self, query: MessagesQuery | None = None) -> MessagesPage:
        """One page of at most ``query.results_count`` messages. An answer listing more is
        refused (FnacProtocolError), never cut: Fnac ignoring the page size asked means
        the next pages would skip or repeat messages, so nothing of it is taken."""
        asked = query or MessagesQuery()
        cap = min(ENVELOPE_BYTES + asked.results_count * MESSAGE_BYTES, self._max_bytes)
        page = xml.read_messages((await self._service("messages_query", asked, max_bytes=cap)).root)
        listed = len(page.messages) + len(page.unreadable)
        if listed > asked.results_count:
            log.warning(
                "Fnac listed more messages than asked; page refused",
                extra={**self._shop(), "listed": listed, "asked": asked.results_count},
            )
            raise FnacProtocolError(
                f"{listed} messages listed, {asked.results_count} asked for the page"
            )
        return page

    async def messages_update(
        self, updates: Sequence[MessageUpdate]
    ) -> tuple[MessageUpdateResult, ...]:
        """One result per message (each may be refused on its own, with its codes)."""
        sends = any(update.action in SENDING_ACTIONS for update in updates)
        asked = MessagesUpdate(tuple(updates))
        answer = await self._service("messages_update", asked, idempotent=not sends)
        return xml.read_message_updates(answer.root, answer.redact)

    async def orders_query(self, query: OrdersQuery | None = None) -> OrdersPage:
        return xml.read_orders((await self._service("orders_query", query or OrdersQuery())).root)

    async def incidents_query(self, query: IncidentsQuery | None = None) -> IncidentsPage:
        asked = query or IncidentsQuery()
        return xml.read_incidents((await self._service("incidents_query", asked)).root)

    async def _service(self, service: str, asked: msgspec.Struct, **how: Any) -> xml.Answer:
        """``service``'s answer to ``asked``, accepted by its envelope."""
        body = functools.partial(request, xml.NS, service, declared=asked)
        answer: xml.Answer = await self.post_document(service, body, **how)
        xml.expect_root(answer.root, service)
        return answer

"""Fnac/Darty seller API client: one shop, its token, typed errors.

Every call is ``POST <base_url><service>`` with one XML document (xml.py). ``authenticate``
trades partner_id/shop_id/key for a token that every later request carries as a root
attribute; Fnac publishes no token lifetime, so a call refused for its token
re-authenticates once and is sent again (the kit's ``LoginToken``: one login for every
caller that found the token refused at once). What every shop API client does alike — retries
of unreachable, timeouts, 5xx, 429 and garbled answers with jittered back-off, a
``Retry-After`` obeyed, then FnacUnavailable; a reply never sent twice, a lost answer once
it left being FnacOutcomeUnknown — is the shared ``JsonCalls``'s; this client says how
Fnac is called and what its XML answers mean. Details and assumptions: docs/FNAC.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import httpx
import msgspec
from keybuzz_shared.connectors.kit import LoginToken
from keybuzz_shared.connectors.kit.xml_answers import garbled
from keybuzz_shared.http_calls import AnswerTooLarge, TransientFailure, read_bounded
from keybuzz_shared.json_calls import CallTerms, JsonCalls
from keybuzz_shared.redaction import KnownSecrets

from keybuzz_connector_fnac import xml
from keybuzz_connector_fnac.models import (
    AuthToken,
    FnacCredentialsRefused,
    FnacErrorDetail,
    FnacOutcomeUnknown,
    FnacProtocolError,
    FnacRequestRefused,
    FnacUnavailable,
    IncidentsPage,
    IncidentsQuery,
    MessagesPage,
    MessagesQuery,
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
# "Later": the call is retried like a 429 (which the double sends with it).
TRANSIENT_CODES = frozenset({"ERR_004"})


ERROR_TEXT_CHARS = 300  # of each Fnac error text kept

# A messages_query answer is capped in proportion to the page asked: a message is some
# KB of text (an assumption: Fnac publishes no limit) and a few file links, so 64 KiB
# each plus the envelope is ample; a 100-message page is then at most 6.3 MiB.
MESSAGE_BYTES = 64 * 1024
ENVELOPE_BYTES = 64 * 1024

# Fnac's messages travel in an XML document, so a message cannot carry what XML 1.0
# cannot hold (xml.NOT_XML_CHARS).
# What a pasted soft line break (U+000B) or page break (U+000C) stands for.
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})


def carried_text(text: str) -> str:
    """``text`` as a Fnac message carries it: a vertical tab or form feed becomes a line
    end, every other character XML cannot hold is left out. Fnac stores and lists back
    exactly this, so a reply's text is made so before it is queued and compared so when
    it is read back."""
    return xml.NOT_XML_CHARS.sub("", text.translate(_LINE_BREAKS))


class FnacCredentials(msgspec.Struct, frozen=True):
    partner_id: str
    shop_id: str
    key: str

    def __repr__(self) -> str:
        return f"FnacCredentials(partner_id={self.partner_id!r}, shop_id={self.shop_id!r}, key=[REDACTED])"


class _TokenRefused(Exception):
    """The call was refused for its token: authenticate again, then repeat it once."""

    def __init__(self, status: str, errors: tuple[FnacErrorDetail, ...] = ()) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


@dataclass
class _Call:
    name: str  # the service: "messages_query"
    body: Callable[[dict[str, str]], bytes]  # the request, given the header attributes
    # False for calls that send something: only answers proving Fnac did nothing are retried.
    idempotent: bool = True
    authenticated: bool = True
    # messages_update answers ERROR when one of its messages was refused, each message
    # with its own status and errors: the caller reads them.
    per_item: bool = False
    max_bytes: int | None = None  # the answer's size cap when smaller than the client's
    in_doubt: bool = False
    retry_after: float | None = None


TERMS = CallTerms(
    "Fnac",
    log,
    unavailable=FnacUnavailable,
    unreadable=lambda _service, reason: FnacProtocolError(reason),
    outcome_unknown=FnacOutcomeUnknown,
)


class FnacClient(JsonCalls[_Call]):
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        credentials: FnacCredentials,
        *,
        attempts: int = 4,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
        max_response_bytes: int = xml.MAX_RESPONSE_BYTES,
        token_refused_codes: frozenset[str] = TOKEN_REFUSED_CODES,
        transient_codes: frozenset[str] = TRANSIENT_CODES,
    ) -> None:
        super().__init__(
            http,
            TERMS,
            max_response_bytes=max_response_bytes,
            attempts=attempts,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
        )
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.credentials = credentials
        self._token_codes = token_refused_codes
        self._transient_codes = transient_codes
        # The token, kept until Fnac refuses it, renewed once for every caller at once.
        self.tokens = LoginToken(
            self._login, lambda grant: grant.token, carry=self._carried, secrets=[credentials.key]
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client the session's calls go through (its files' downloads too)."""
        return self._http

    @property
    def authenticated(self) -> bool:
        return self.tokens.granted is not None

    @property
    def _token(self) -> AuthToken | None:
        return self.tokens.granted

    async def authenticate(self) -> AuthToken:
        """Gets a token and keeps it; FnacCredentialsRefused when the shop's key is refused."""
        return await self.tokens.authenticate()

    async def _login(self) -> AuthToken:
        creds = self.credentials
        call = _Call(
            "auth",
            lambda _header: xml.auth_request(creds.partner_id, creds.shop_id, creds.key),
            authenticated=False,
        )
        return xml.read_auth(await self._send(call, {}))

    def _carried(self, token: str) -> dict[str, str]:
        """What a request carries of the token: its root's attributes."""
        creds = self.credentials
        return {"partner_id": creds.partner_id, "shop_id": creds.shop_id, "token": token}

    async def messages_query(self, query: MessagesQuery | None = None) -> MessagesPage:
        """One page of at most ``query.results_count`` messages. An answer listing more is
        refused (FnacProtocolError), never cut: Fnac ignoring the page size asked means
        the next pages would skip or repeat messages, so nothing of it is taken."""
        query = query or MessagesQuery()
        cap = ENVELOPE_BYTES + query.results_count * MESSAGE_BYTES
        call = _Call(
            "messages_query",
            lambda h: xml.messages_query_request(h, query),
            max_bytes=min(cap, self._max_bytes),
        )
        page = xml.read_messages(await self._call(call))
        listed = len(page.messages) + len(page.unreadable)
        if listed > query.results_count:
            log.warning(
                "Fnac listed more messages than asked; page refused",
                extra={**self._where(call), "listed": listed, "asked": query.results_count},
            )
            raise FnacProtocolError(
                f"{listed} messages listed, {query.results_count} asked for the page"
            )
        return page

    async def messages_update(
        self, updates: Sequence[MessageUpdate]
    ) -> tuple[MessageUpdateResult, ...]:
        """One result per message (each may be refused on its own, with its codes)."""
        updates = tuple(updates)
        sends = any(update.action in SENDING_ACTIONS for update in updates)
        root = await self._call(
            _Call(
                "messages_update",
                lambda h: xml.messages_update_request(h, updates),
                idempotent=not sends,
                per_item=True,
            )
        )
        return tuple(
            msgspec.structs.replace(result, errors=self._scrubbed(result.errors))
            for result in xml.read_message_updates(root)
        )

    async def orders_query(self, query: OrdersQuery | None = None) -> OrdersPage:
        query = query or OrdersQuery()
        root = await self._call(_Call("orders_query", lambda h: xml.orders_query_request(h, query)))
        return xml.read_orders(root)

    async def incidents_query(self, query: IncidentsQuery | None = None) -> IncidentsPage:
        query = query or IncidentsQuery()
        root = await self._call(
            _Call("incidents_query", lambda h: xml.incidents_query_request(h, query))
        )
        return xml.read_incidents(root)

    # --- one call: token, refusal, one re-authentication ----------------------------------

    async def _call(self, call: _Call) -> xml.Element:
        header = await self.tokens.headers()
        try:
            return await self._send(call, header)
        except _TokenRefused:
            log.info("Fnac refused the token; authenticating again", extra=self._where(call))
        header = await self.tokens.renewed(self, header)
        try:
            return await self._send(call, header)
        except _TokenRefused as again:
            # A token just granted is refused: not the shop's credentials, Fnac's refusal.
            self.tokens.forget()
            raise FnacRequestRefused(call.name, again.status, again.errors) from None

    # --- one request, with retries ----------------------------------------------------------

    async def _send(self, call: _Call, header: dict[str, str]) -> xml.Element:
        return await self._attempted(call, lambda: self._once(call, header))

    async def _once(self, call: _Call, header: dict[str, str]) -> xml.Element:
        body = call.body(header)
        headers = {"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"}
        cap = self._max_bytes if call.max_bytes is None else call.max_bytes
        _, content = await self._exchange(
            call,
            lambda: self._http.stream(
                "POST", self._base_url + call.name, content=body, headers=headers
            ),
            cap,
        )
        try:
            root = xml.parse(content, max_bytes=cap)
        except FnacProtocolError as exc:
            if not garbled(exc.reason):
                raise
            self._lost(call, exc.reason)
            log.warning("Fnac answer unreadable; retrying", extra=self._where(call))
            raise TransientFailure(exc.reason, unreadable=True) from None
        return self._accepted(call, root)

    def _accepted(self, call: _Call, root: xml.Element) -> xml.Element:
        """The root of an answer whose status is OK; otherwise what its errors say."""
        status, read = xml.read_envelope(root)
        errors = self._scrubbed(read)
        if status in xml.REFUSED_STATUSES:
            codes = {error.code for error in errors}
            if codes & self._transient_codes:
                raise TransientFailure(f"{status} {', '.join(sorted(codes))}")
            if not call.authenticated:
                raise FnacCredentialsRefused(_listed(errors), errors)
            if codes & self._token_codes or any("token" in e.text.lower() for e in errors):
                raise _TokenRefused(status, errors)
            if not (call.per_item and not errors):
                raise FnacRequestRefused(call.name, status, errors)
        xml.expect_root(root, call.name)
        return root

    # --- what JsonCalls asks of a client ----------------------------------------------------

    async def _check_status(self, call: _Call, response: httpx.Response) -> None:
        """An error status with an XML answer is read like any answer: its envelope says
        what was refused."""
        status = response.status_code
        if 400 <= status < 500 and status not in (401, 403, 429) and _is_xml(response):
            return
        await super()._check_status(call, response)

    async def _refused(self, call: _Call, response: httpx.Response) -> NoReturn:
        status = response.status_code
        if status in (401, 403):
            if not call.authenticated:
                raise FnacCredentialsRefused(f"HTTP {status}")
            raise _TokenRefused(f"HTTP {status}")
        raise FnacRequestRefused(call.name, f"HTTP {status}", ())

    async def _read_bounded(self, call: _Call, response: httpx.Response, max_bytes: int) -> bytes:
        """The body, refused without reading it all when it is larger than allowed."""
        try:
            return await read_bounded(response, max_bytes)
        except AnswerTooLarge as exc:
            declared = f" ({exc.declared})" if exc.declared is not None else ""
            raise FnacProtocolError(f"response larger than {max_bytes} bytes{declared}") from None

    def _shop(self) -> dict[str, str]:
        return {"shop_id": self.credentials.shop_id}

    def _secrets(self) -> Iterable[str]:
        return self.tokens.secrets()

    def _scrubbed(self, errors: tuple[FnacErrorDetail, ...]) -> tuple[FnacErrorDetail, ...]:
        """Fnac's error texts, shortened, without the shop's key or token should Fnac echo
        them (removed before shortening, so no part of one is left)."""
        known = KnownSecrets(self._secrets())
        return tuple(
            msgspec.structs.replace(e, text=known.redact(e.text)[:ERROR_TEXT_CHARS]) for e in errors
        )


def _is_xml(response: httpx.Response) -> bool:
    return "xml" in response.headers.get("content-type", "")


def _listed(errors: Sequence[FnacErrorDetail]) -> str:
    return "; ".join(f"{e.code}: {e.text}" for e in errors) or "no error given"

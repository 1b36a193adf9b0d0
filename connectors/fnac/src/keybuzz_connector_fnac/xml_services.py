"""A requester on an XML API whose every call is one service: ``POST <api>/<service>`` of
a document ``<service>`` in the API's namespace holding the service's query (a msgspec
Struct, xml_structs.py), answered ``<service>_response`` in the API's status envelope
(xml_envelope.py, the spec's ``answers``). The shop's own credentials (a Struct, written as
the login service's query) are traded at the login service for a token (``LoginToken``:
kept until a call is refused for it, then one login for every caller that found it
refused at once) that every later request carries as its root's attributes. A page of a
listing is bounded by the page asked: its answer's bytes in proportion, and a page listing
more items than asked refused, never cut (the next pages would skip or repeat some)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors.kit import (
    ApiSpec,
    Redacted,
    Requester,
    RequesterOptions,
    StatusEnvelope,
)
from lxml import etree

from keybuzz_connector_fnac.login_token import LoginToken
from keybuzz_connector_fnac.xml_structs import request

G = TypeVar("G")  # what the login grants: the token and what comes with it
P = TypeVar("P")  # a page as the connector reads it


class XmlServices(Requester, Generic[G]):
    """One shop's services on ``base_url``: ``login``, the service trading ``credentials``
    for a grant (``grant``: read from its answer; ``token``: the grant's token); ``carry``:
    what a request's root carries of the token; ``secrets``: what no error may quote (the
    shop's key; by default the ``SECRETS`` of ``credentials``, a ``Redacted`` Struct)."""

    def __init__(
        self,
        spec: ApiSpec,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        login: str,
        credentials: msgspec.Struct,
        grant: Callable[[etree._Element], G],
        token: Callable[[G], str],
        carry: Callable[[str], dict[str, str]],
        secrets: Iterable[str] | None = None,
        shop: Mapping[str, str] | None = None,
        **options: Unpack[RequesterOptions],
    ) -> None:
        if not isinstance(spec.answers, StatusEnvelope):
            raise TypeError(f"{spec.label}'s services answer in a StatusEnvelope")
        self.envelope = spec.answers
        self._login_service = login
        self._login_query = credentials
        self._grant = grant
        if secrets is None:
            named = credentials.SECRETS if isinstance(credentials, Redacted) else frozenset()
            secrets = [getattr(credentials, name) for name in named]
        self.tokens = LoginToken(self._log_in, token, carry=carry, secrets=secrets)
        super().__init__(spec, self.tokens, http, base_url, shop=shop, **options)

    @property
    def authenticated(self) -> bool:
        return self.tokens.granted is not None

    async def authenticate(self) -> G:
        """Logs in now and keeps the token; the shop's credentials refused when the key is."""
        return await self.tokens.authenticate()

    async def service(
        self, service: str, asked: msgspec.Struct, **how: Any
    ) -> StatusEnvelope.Answer:
        """``service``'s answer to ``asked``, accepted by its envelope (``how``: the
        requester's ``post_document`` options: ``idempotent``, ``max_bytes``)."""
        body = functools.partial(request, self.envelope.ns, service, declared=asked)
        answer: StatusEnvelope.Answer = await self.post_document(service, body, **how)
        self.envelope.expect_root(answer.root, service)
        return answer

    async def page(
        self,
        service: str,
        asked: msgspec.Struct,
        read: Callable[[etree._Element], P],
        *,
        size: int,
        listed: Callable[[P], int],
        what: str,
        each_bytes: int,
        envelope_bytes: int,
    ) -> P:
        """One page of at most ``size`` items (``what``, "messages") read by ``read``,
        its answer at most ``envelope_bytes`` and ``each_bytes`` an item; ``listed``: how
        many items the page lists, those left out unread included."""
        cap = min(envelope_bytes + size * each_bytes, self._max_bytes)
        page = read((await self.service(service, asked, max_bytes=cap)).root)
        if (count := listed(page)) > size:
            self.spec.log.warning(
                "%s listed more %s than asked; page refused",
                self.spec.label,
                what,
                extra={**self._shop(), "listed": count, "asked": size},
            )
            reason = f"{count} {what} listed, {size} asked for the page"
            raise self.spec.errors.unreadable(service, reason)
        return page

    async def _log_in(self) -> G:
        answer = await self.service(self._login_service, self._login_query, login=True)
        return self._grant(answer.root)

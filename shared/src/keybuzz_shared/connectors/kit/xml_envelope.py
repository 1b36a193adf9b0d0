"""An XML API's status envelope, declared: every answer is one root element in the API's
namespace whose ``status`` attribute says whether the call was done, beside its
``<error code="…" severity="…">text</error>`` children. A connector names its namespace,
its statuses (those that accept a call, those that refuse it), the codes that only ask to
come back later and those that mean the call's token, and the answers whose errors are
their items' own (the caller reads each item's); the kit reads the answer (the XML guard
of xml_answers.py), its status and errors (their texts without a secret, shortened), and
gives the requester its ``Answers`` and its ``Refusals``: a refused login is the shop's
credentials refused, any other refusal the call refused with its status and codes, a
refusal over HTTP without an envelope the same with its status. Those two errors are the
kit's too (``EnvelopeCredentialsRefused``, ``EnvelopeRefused``: the envelope's status and
codes kept, the marketplace named by the connector's subclass)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx
import msgspec
from lxml import etree

from keybuzz_shared.connectors.kit.answers import Refusal
from keybuzz_shared.connectors.kit.refusals import Refusals
from keybuzz_shared.connectors.kit.requester import ApiSpec, CallErrors
from keybuzz_shared.connectors.kit.xml_answers import Element, Node, answer_root, parse_guarded
from keybuzz_shared.connectors.seam import CredentialsRefused, RequestRefused
from keybuzz_shared.json_calls import Unavailable
from keybuzz_shared.redaction import mask_tokens, remote_excerpt


class EnvelopeError(msgspec.Struct, frozen=True):
    """One ``<error severity="…" code="…">text</error>`` of an answer."""

    code: str
    severity: str
    text: str


Errors = tuple[EnvelopeError, ...]


class Enveloped(NamedTuple):
    """An answer as the requester read it: its root, status and errors, and the
    ``redact`` its texts go through."""

    root: Element
    status: str
    errors: Errors
    redact: Callable[[str], str]


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


@dataclass(frozen=True, kw_only=True)
class StatusEnvelope:
    """``ns``: the API's namespace; ``unreadable(reason)``: its unreadable answer;
    ``accepting`` and ``refusing``: its statuses (any other is unreadable); ``later``:
    codes asking to come back soon (asked again like a 429); ``token``: codes meaning the
    call's token (so does an error whose text names it); ``per_item``: roots whose
    refusing status with no error of their own leaves each item's errors to the caller;
    ``text_chars``: what is kept of each error's text."""

    ns: str
    unreadable: Callable[[str], Exception]
    accepting: frozenset[str]
    refusing: frozenset[str]
    later: frozenset[str] = frozenset()
    token: frozenset[str] = frozenset()
    per_item: frozenset[str] = frozenset()
    text_chars: int = 300
    content_type: str = "text/xml; charset=utf-8"

    def parse(self, data: bytes, *, max_bytes: int) -> Element:
        """The root element of an answer, by the kit's guard (no DTD, no entity, UTF-8
        only, ``max_bytes`` at most, the API's namespace); ``unreadable`` for anything else."""
        return parse_guarded(data, self.unreadable, max_bytes=max_bytes, ns=self.ns)

    def node(self, element: Element) -> Node:
        return Node(element, self.ns, self.unreadable)

    def status(self, root: Element, redact: Callable[[str], str] = str) -> tuple[str, Errors]:
        """The answer's status and its errors (their texts through ``redact``)."""
        status = root.get("status")
        if status is None:
            raise self.unreadable(f"<{local_name(root)}> has no status")
        if status not in self.accepting and status not in self.refusing:
            raise self.unreadable(f"unknown status {status!r}")
        return status, self.errors(self.node(root), redact)

    def errors(self, node: Node, redact: Callable[[str], str] = str) -> Errors:
        """The ``<error>``s of ``node``, without a secret the API may echo, nor anything
        shaped like a token (masked before shortening, so no part of one is left)."""
        return tuple(
            EnvelopeError(
                code=mask_tokens(error.element.get("code") or ""),
                severity=mask_tokens(error.element.get("severity") or ""),
                text=remote_excerpt(redact(error.element.text or ""), self.text_chars),
            )
            for error in node.all("error")
        )

    def expect_root(self, root: Element, service: str) -> None:
        """The answer of ``service`` is a ``<service>_response``; unreadable otherwise."""
        if local_name(root) != f"{service}_response":
            raise self.unreadable(f"expected <{service}_response>, got <{local_name(root)}>")

    # --- the requester's Answers ------------------------------------------------------------

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Enveloped:
        root = answer_root(content, self.unreadable, max_bytes=max_bytes, ns=self.ns)
        return Enveloped(root, *self.status(root, redact), redact)

    def refusal(self, answer: Enveloped) -> Refusal | None:
        if answer.status not in self.refusing:
            return None
        if local_name(answer.root) in self.per_item and not answer.errors:
            return None
        codes = {error.code for error in answer.errors}
        reason = f"{answer.status} {', '.join(sorted(codes))}".strip()
        return Refusal(reason, later=bool(codes & self.later))

    # --- the requester's Refusals -----------------------------------------------------------

    def refusals(
        self,
        login: str,
        credentials_refused: Callable[[str, Errors], Exception],
        refused: Callable[[str, str, Errors], Exception],
    ) -> Refusals:
        """A 401 or 403 is the credentials' (a token's, renewed once); ``login``: the call
        whose refusal is the credentials' (``credentials_refused(detail, errors)``); any
        other refusal is ``refused(call, status, errors)``."""

        def expired(response: httpx.Response, document: Any) -> bool:
            if not isinstance(document, Enveloped):
                return response.status_code in (401, 403)
            said = document.errors
            return any(e.code in self.token or "token" in e.text.lower() for e in said)

        def error(call: str, status: int, document: Any) -> Exception:
            if isinstance(document, Enveloped):
                if call == login:
                    return credentials_refused("", document.errors)
                return refused(call, document.status, document.errors)
            if call == login and status in (401, 403):
                return credentials_refused(f"HTTP {status}", ())
            return refused(call, f"HTTP {status}", ())

        return Refusals(credentials=frozenset({401, 403}), expired=expired, error=error)

    # --- the requester's ApiSpec ------------------------------------------------------------

    def spec(
        self,
        label: str,
        log: logging.Logger,
        *,
        login: str,
        unavailable: Unavailable,
        outcome_unknown: Callable[[str, str], Exception],
        credentials_refused: Callable[[str, Errors], Exception],
        refused: Callable[[str, str, Errors], Exception],
        max_response_bytes: int,
    ) -> ApiSpec:
        """The ``ApiSpec`` of an API answering in this envelope (``label``: its marketplace):
        its answers and ``refusals`` this envelope's, an unreadable answer its
        ``unreadable``, a refusal over HTTP without an envelope ``refused`` with the HTTP
        status (as ``refusals`` says it), a call unavailable or whose outcome is unknown
        ``unavailable`` and ``outcome_unknown``."""
        errors = CallErrors(
            unavailable=unavailable,
            unreadable=lambda _call, reason: self.unreadable(reason),
            outcome_unknown=outcome_unknown,
            refused=lambda call, status, _detail: refused(call, f"HTTP {status}", ()),
            credentials_refused=lambda detail: credentials_refused(detail, ()),
        )
        refusals = self.refusals(login, credentials_refused, refused)
        return ApiSpec(
            label, log, errors, refusals, max_response_bytes=max_response_bytes, answers=self
        )


def listed(errors: Sequence[EnvelopeError], chars: int | None = None) -> str:
    """An answer's errors as a refusal says them: each code and text (``chars`` at most)."""
    return "; ".join(f"{e.code}: {e.text}"[:chars] for e in errors) or "no error given"


class EnvelopeCredentialsRefused(CredentialsRefused):
    """The login service refused the shop's credentials (wrong, or revoked): ``detail``, or
    its errors, said; their ``codes`` kept. ``label`` names the marketplace."""

    label = "the marketplace"

    def __init__(self, detail: str, errors: Sequence[EnvelopeError] = ()) -> None:
        said = detail or listed(errors)
        super().__init__(f"{self.label} refused the shop's credentials: {said}")
        self.errors = tuple(errors)
        self.codes = tuple(error.code for error in self.errors)


class EnvelopeRefused(RequestRefused):
    """A call whose answer's status refused it (or an HTTP status, where no envelope came):
    its ``status``, ``errors`` and their ``codes`` kept. ``label`` names the marketplace."""

    label = "the marketplace"

    def __init__(self, service: str, status: str, errors: Sequence[EnvelopeError]) -> None:
        self.service = service
        self.status = status
        self.errors = tuple(errors)
        self.codes = tuple(error.code for error in self.errors)
        super().__init__(f"{self.label} {service} answered {status}: {listed(self.errors, 200)}")


# --- an API whose refusals are a document of their own -----------------------------------------


class XmlAnswer(NamedTuple):
    """An answer of an ``ErrorRoot`` API: its root, what its refusal says (secrets masked),
    and the codes it gave."""

    root: Element
    refused: Refusal | None
    codes: frozenset[str] = frozenset()

    def node(self) -> Node:
        """The root whatever its namespace, a field missing a ValueError."""
        return Node(self.root, None, ValueError)


@dataclass(frozen=True, kw_only=True)
class ErrorRoot:
    """An XML API that answers a call with its result's own root, and refuses it with a
    root of its own (``root``) listing ``<error>``s, each said by the texts at ``said``
    (its code first, ``code``: where its code is), whatever the namespace. ``later``:
    codes only asking to come back soon (every error's one of them: asked again like a
    429); ``credentials``: codes meaning the shop's credentials; ``errors``: the
    marketplace's ``CallErrors``; ``service``: what an unreadable answer names."""

    root: str
    errors: CallErrors
    service: str
    code: str = "code"
    said: tuple[str, ...] = ("code", "message")
    later: frozenset[str] = frozenset()
    credentials: frozenset[str] = frozenset()
    content_type: str = "text/xml; charset=utf-8"

    # --- the requester's Answers ------------------------------------------------------------

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> XmlAnswer:
        refused = lambda reason: self.errors.unreadable(self.service, reason)  # noqa: E731
        root = answer_root(content, refused, max_bytes=max_bytes)
        if local_name(root) != self.root:
            return XmlAnswer(root, None)
        errors = Node(root, None, ValueError).all("error")
        codes = [error.text(self.code) or "" for error in errors]
        said = "; ".join(" ".join(self._texts(error)) for error in errors)
        later = bool(codes) and all(code in self.later for code in codes)
        reason = redact(said or "an error without a reason")
        return XmlAnswer(root, Refusal(reason, later), frozenset(codes))

    def _texts(self, error: Node) -> list[str]:
        found = (e.element.text for path in self.said for e in error.all(path))
        return [text.strip() for text in found if text and text.strip()]

    def refusal(self, answer: XmlAnswer) -> Refusal | None:
        return answer.refused

    # --- the requester's Refusals -----------------------------------------------------------

    def error(self, call: str, status: int, document: Any) -> Exception:
        """The refusal as the seam's: the shop's credentials refused (one of their codes,
        or a 401/403 without a document), else the call refused in the API's own words."""
        if isinstance(document, XmlAnswer) and document.refused is not None:
            if document.codes & self.credentials:
                return self.errors.credentials_refused(f"{call}: {document.refused.reason}")
            return self.errors.refused(call, status, document.refused.reason)
        if status in (401, 403):
            return self.errors.credentials_refused(f"{call}: HTTP {status}")
        return self.errors.refused(call, status, f"HTTP {status}")

    def refusals(self) -> Refusals:
        return Refusals(credentials=frozenset({401, 403}), error=self.error)

    def result(self, answer: XmlAnswer, root: str, child: str = "response") -> Node:
        """The ``<child>`` of an answer whose root is ``root``; unreadable otherwise."""
        node = answer.node()
        found = node.get(child) if node.name == root else None
        if found is None:
            raise self.errors.unreadable(root, f"expected <{root}> with a <{child}>")
        return Node(found, None, ValueError)

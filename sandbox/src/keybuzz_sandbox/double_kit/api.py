"""What a shop-API double's operations share: the answer an operation gives, the refusal it
raises (its routes turn it into the marketplace's error body), the query readers every
marketplace spells alike."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response

from keybuzz_sandbox.answers import JSON, gateway_page, joined_query
from keybuzz_sandbox.clock import parse_iso
from keybuzz_sandbox.faults import (
    FaultConfig,
    FaultInjector,
    ReplyFaults,
    malform,
    no_hostile_paging,
)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
F = TypeVar("F", bound=FaultConfig)
# A shop's listings as its paging faults show them (``ReplyFaults.paged``).
Paging = Callable[[list[Any], bool], list[Any] | None]


class Refused(Exception):
    """An operation's refusal: the HTTP status and the marketplace's words for it (and its
    error code, where the marketplace's error body has one)."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def found(value: T | None, message: str, code: str = "") -> T:
    """``value``; without one, the 404 the marketplace says ``message`` (``code``) with."""
    if value is None:
        raise Refused(404, message, code)
    return value


class Answer(msgspec.Struct, frozen=True):
    status: int
    payload: Any = None  # JSON, or bytes served as ``media_type``
    headers: dict[str, str] = {}
    media_type: str = "application/json"


def file_answer(name: str, content: bytes, media_type: str | None = None) -> Answer:
    """A file's bytes, downloaded as ``name`` (of ``media_type``, else of no known type)."""
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Answer(200, content, disposition, media_type or "application/octet-stream")


class ShopCall(msgspec.Struct, frozen=True, kw_only=True):
    """One call to a shop's operation as the operation reads it (a double's own kind adds
    what its operations read besides)."""

    path: Mapping[str, str]  # the path's parameters
    query: Mapping[str, str]  # a repeated parameter's values joined by commas
    url: str  # without the query: where another page's link points
    content_type: str
    body: bytes
    now: float  # the double's clock


C = TypeVar("C", bound=ShopCall)


async def shop_call(request: Request[Any, Any, Any], kind: type[C], now: float, **more: Any) -> C:
    """``request`` as ``kind`` reads it, at ``now`` (``more``: its kind's other fields)."""
    return kind(
        path=dict(request.path_params),
        query=joined_query(request),
        url=str(request.url).split("?", 1)[0],
        content_type=request.headers.get("content-type", ""),
        body=await request.body(),
        now=now,
        **more,
    )


def iso_millis(ts: float) -> str:
    """``ts`` as most marketplaces write a moment: ISO 8601, UTC, milliseconds, trailing Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_link(call: ShopCall, **changed: str) -> str:
    """The call's URL with ``changed`` in its query: where another page of it is read."""
    return f"{call.url}?{urlencode({**call.query, **changed})}"


def within(value: float, bounds: tuple[float | None, float | None]) -> bool:
    """Whether ``value`` is between ``bounds`` (inclusive; None: no bound on that side)."""
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def config_of(faults: FaultInjector, kind: type[F]) -> F:
    """A double's fault settings, of its own ``kind`` (its admin replaces them whole)."""
    config = faults.config
    assert isinstance(config, kind)
    return config


def query_bool(query: Mapping[str, str], name: str) -> bool | None:
    """A true/false query parameter (any case); None when absent; Refused 400 otherwise."""
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise Refused(400, f"{name} must be true or false")
    return raw.lower() == "true"


def query_date(query: Mapping[str, str], name: str) -> float | None:
    """A query date the marketplace's description types ``date-time`` (so checked by it
    already); None when absent."""
    return parse_iso(query[name]) if name in query else None


def query_int(query: Mapping[str, str], name: str, default: int, bounds: tuple[int, int]) -> int:
    """A whole-number query parameter within ``bounds`` (``default`` when absent); Refused
    400 otherwise."""
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not bounds[0] <= int(raw) <= bounds[1]:
        raise Refused(400, f"{name} must be an integer between {bounds[0]} and {bounds[1]}")
    return int(raw)


def query_choice(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    """A query parameter among ``allowed``; None when absent; Refused 400 otherwise."""
    raw = query.get(name)
    if raw is not None and raw not in allowed:
        raise Refused(400, f"{name} must be one of {', '.join(allowed)}")
    return raw


def query_read(
    query: Mapping[str, str], name: str, read: Callable[[str], T], refused: Exception
) -> T | None:
    """The query parameter ``name`` as ``read`` makes it (its ValueError: ``refused``
    raised, the marketplace's words for a bad value); None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return read(raw)
    except ValueError:
        raise refused from None


def page_of(
    items: Sequence[T],
    page: int,
    size: int,
    paged: Paging = no_hostile_paging,
) -> tuple[list[T], bool]:
    """Page ``page`` (from 1) of ``items``, ``size`` a page, and whether another follows;
    as ``paged`` shows it when it pages as none should."""
    start = (page - 1) * size
    hostile = paged(list(items[:size]), page > 1)
    if hostile is not None:
        return hostile, True
    return list(items[start : start + size]), start + size < len(items)


def decoded(body: bytes, kind: type[T], what: str) -> T:
    """A JSON body (or part) as ``kind``; else Refused 400 saying what is wrong with it."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise Refused(400, f"{what}: {exc}") from None
    except msgspec.DecodeError:
        raise Refused(400, f"{what} is not valid JSON") from None


class Part(msgspec.Struct, frozen=True):
    name: str
    filename: str | None  # None: a field, not a file
    content: bytes


def multipart(content_type: str, body: bytes, code: str = "") -> list[Part]:
    """A multipart/form-data body's parts, else Refused 400 (``code``: the marketplace's
    error code for it)."""
    if not content_type.startswith("multipart/form-data"):
        raise Refused(400, "Content-Type must be multipart/form-data", code)
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise Refused(400, "Malformed multipart body", code)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise Refused(400, "Malformed multipart part", code)
        parts.append(Part(name, part.get_filename(), payload))
    return parts


# A proxy's page where the API's JSON was due (the ``html`` fault), with status 200.
MAINTENANCE_PAGE = b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>"
# The same fault as a gateway's page says it (where the marketplace's proxy answers so).
PROXY_PAGE = gateway_page(200).content
# A moved or misconfigured instance's answer (the ``redirect`` fault): to a login elsewhere.
LOGIN_REDIRECT = "https://login.invalid/auth?redirect=%2Fapi"


def web_page(kind: str, page: bytes = MAINTENANCE_PAGE) -> Response[bytes]:
    """What a base URL that is not the API answers: ``html`` a web page with 200 (``page``),
    ``redirect`` a 302 to a login."""
    if kind == "redirect":
        return Response(b"", status_code=302, headers={"Location": LOGIN_REDIRECT})
    return Response(page, media_type="text/html")


def served(
    done: Answer,
    malformed_kind: str | None,
    huge_bytes: int,
    *,
    page: bytes = MAINTENANCE_PAGE,
    malformed_status: int | None = None,
) -> Response[bytes]:
    """An operation's answer over HTTP: no body for a 204, bytes as they are (a file), JSON
    made hostile as the fault's ``malformed_kind`` says (``html``/``redirect``: ``web_page``;
    the others ``faults.malform``'s up to ``huge_bytes``, with the answer's status unless
    ``malformed_status``)."""
    if done.status == 204:
        return Response(b"", status_code=204, headers=done.headers)
    if isinstance(done.payload, bytes):
        return Response(done.payload, media_type=done.media_type, headers=done.headers)
    body = msgspec.json.encode(done.payload)
    if malformed_kind in ("html", "redirect"):
        return web_page(malformed_kind, page)
    if malformed_kind:
        hostile = malform(body, malformed_kind, huge_bytes)
        if malformed_status is not None:
            return Response(hostile, status_code=malformed_status, media_type=JSON)
        return Response(hostile, status_code=done.status, media_type=JSON, headers=done.headers)
    return Response(body, status_code=done.status, media_type=JSON, headers=done.headers)


class FaultedBook(Protocol):
    reply_faults: ReplyFaults  # how the shop's threads show and date a seller's reply


B = TypeVar("B", bound=FaultedBook)


def seller_reply(book: FaultedBook, text: str, now: float) -> tuple[str, float]:
    """A seller's reply as the shop's thread shows it, and when it dates it (its faults)."""
    return book.reply_faults.show(text), book.reply_faults.date(now)


def run_served(
    run: Callable[[B, C], Answer],
    book: B,
    call: C,
    faults_now: ReplyFaults,
    refusal: Callable[[Refused], Response[bytes]],
    malformed_kind: str | None,
    huge_bytes: int,
    **served_options: Any,
) -> Response[bytes]:
    """``run`` on ``book`` for ``call``, the book's replies shown as this call's
    ``faults_now`` say; its ``Refused`` answered by ``refusal`` (the marketplace's error
    body), its answer ``served`` (``served_options``: its page, its malformed status)."""
    book.reply_faults = faults_now
    try:
        done = run(book, call)
    except Refused as refused:
        return refusal(refused)
    return served(done, malformed_kind, huge_bytes, **served_options)


class RetryAfters(Generic[K]):
    """The Retry-Afters a double gave (by what each was for: a shop's operation), and the
    calls made before the one for them ended (``inside``: the admin's
    ``retry_after_handlers`` list them), on the double's clock (``now``, each time shown
    as ``shown`` says; ``scale`` of its seconds a real one)."""

    def __init__(
        self, now: Callable[[], float], shown: Callable[[float], str], scale: float = 1.0
    ) -> None:
        self.now, self.shown, self.scale = now, shown, scale
        self.ends: dict[K, float] = {}
        self.inside: list[dict[str, object]] = []

    def told(self, key: K, seconds: int) -> None:
        """A Retry-After of ``seconds`` (whole real seconds) given for ``key``."""
        self.ends[key] = max(self.ends.get(key, 0.0), self.now() + seconds * self.scale)

    def refused(self, key: K, seconds: float, real: Callable[[float], float]) -> int:
        """A limit's Retry-After for ``key``: ``seconds`` of the double's clock, as whole real
        seconds (``real`` turns them so; one at least), told."""
        whole = max(1, math.ceil(real(seconds)))
        self.told(key, whole)
        return whole

    def injected(
        self, key: K, status: int, seconds: int, too_many: Callable[[int], Response[bytes]]
    ) -> Response[bytes]:
        """An injected failure's answer: a gateway's page, or for a 429 the marketplace's
        own (``too_many`` with its Retry-After of ``seconds``), told for ``key`` so that
        the calls made before it ends are counted."""
        if status != 429:
            return gateway_page(status)
        self.told(key, seconds)
        return too_many(seconds)

    def noted(self, key: K, call: dict[str, object], until: float = 0.0) -> bool:
        """Whether a call for ``key`` now comes before its Retry-After (or ``until``, a
        wait told otherwise) ended; such a call kept as ``call`` says it, with when."""
        now, ends = self.now(), max(self.ends.get(key, 0.0), until)
        if now >= ends:
            return False
        self.inside.append({**call, "at": self.shown(now), "retryAfterEnds": self.shown(ends)})
        return True


class Enforced(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A double's limits as its admin sets them (``/limits``): enforced or not (calls still
    counted); a double's own kind adds its figures."""

    enforced: bool = True


L = TypeVar("L", bound=Enforced)


class CallLimits(Generic[K, L]):
    """A double's call limits, by what its marketplace limits (``K``: a shop's operation):
    its admin's ``settings``, the Retry-Afters they made it give (``waits``), and the calls
    admitted for a key, counted in fixed windows of the double's clock or spaced by a least
    period; a key blocked until a moment (a burst's penalty)."""

    def __init__(self, settings: L, waits: RetryAfters[K], real: Callable[[float], float]) -> None:
        self.settings, self.waits, self.real = settings, waits, real
        self.blocked: dict[Hashable, float] = {}
        self._last: dict[Hashable, float] = {}
        self._windows: dict[tuple[Hashable, float], tuple[int, int]] = {}

    def spaced(self, key: Hashable, period: float, now: float) -> float | None:
        """None, the call admitted, when ``period`` passed since the last one admitted for
        ``key``; else what is left of it."""
        last = self._last.get(key)
        if last is None or now - last >= period:
            self._last[key] = now
            return None
        return period - (now - last)

    def calls(self, key: Hashable, size: float, now: float) -> int:
        """Calls admitted for ``key`` in the fixed window of ``size`` seconds now is in."""
        window, calls = self._windows.get((key, size), (-1, 0))
        return calls if window == int(now // size) else 0

    def add(self, key: Hashable, size: float, now: float) -> None:
        self._windows[key, size] = (int(now // size), self.calls(key, size, now) + 1)

    def refused(self, key: K, seconds: float) -> int:
        """The Retry-After (whole real seconds) of ``seconds`` of the double's clock, told."""
        return self.waits.refused(key, seconds, self.real)

    def reset(self) -> None:
        self.blocked.clear()
        self._last.clear()
        self._windows.clear()
        self.waits.ends.clear()

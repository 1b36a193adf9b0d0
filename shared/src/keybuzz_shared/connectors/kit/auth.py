"""How a shop's calls are authenticated and what its credentials are: the schemes (header, a login token, client credentials, a kept token), the credential fields a connector declares and a shop's stored credentials read as the connector's Struct."""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeAlias, TypeVar, runtime_checkable
from urllib.parse import urlencode

import httpx
import msgspec

from keybuzz_shared.connectors.credential_form import canonical
from keybuzz_shared.connectors.seam import (
    CredentialField,
    MarketplaceUnavailable,
    StoredToken,
    TokenStore,
    TokenStoreUnavailable,
)
from keybuzz_shared.redaction import REDACTED

# --- auth ----------------------------------------------------------------------------------
# How a shop's calls prove who they are, one strategy per kind of marketplace API: fixed
# headers (an API key, a basic token), a login call trading the shop's own key for a token
# kept until refused, OAuth2 client credentials (a token traded for the client's id and
# secret, cached, renewed once for every caller at once, and where a store is given, kept
# there for every process) and a token another part keeps (an access token traded for a
# seller's refresh token, cached there).
#
# A strategy gives the requester the headers and query parameters of a call, what no error
# may quote, and a renewal when the marketplace refused what it gave (None: nothing to
# renew, the credentials themselves were refused).

log = logging.getLogger(__name__)
G = TypeVar("G")  # what a login grants: the token and what comes with it

# The token endpoints (by URL) whose last grant in this process failed for a while (down,
# or throttling the application: its grants a day): said once, not at every shop's
# call that waits on a token, until one grants again.
_NOT_GRANTING: set[str] = set()


def _grant_failed(token_url: str, exc: MarketplaceUnavailable) -> None:
    if token_url in _NOT_GRANTING:
        return
    _NOT_GRANTING.add(token_url)
    host = httpx.URL(token_url).host
    log.warning(
        "the token endpoint grants no token now (%s): the calls waiting on one are tried "
        "later, the shops' credentials kept; said once until it grants again",
        exc,
        extra={"token_host": host},
    )


def _granted_again(token_url: str) -> None:
    if token_url in _NOT_GRANTING:
        _NOT_GRANTING.discard(token_url)
        log.info(
            "the token endpoint grants tokens again",
            extra={"token_host": httpx.URL(token_url).host},
        )


class Requester(Protocol):
    """What a strategy asks of the requester: a token endpoint's answer, and its
    marketplace's words for an answer it cannot read."""

    async def token(
        self, token_url: str, form: bytes, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """The decoded answer of ``token_url`` to ``form`` (``headers``: the client's
        authentication where it is not in the form)."""
        ...

    def unreadable(self, call: str, reason: str) -> Exception:
        """The marketplace's AnswerUnreadable."""
        ...


class Auth(Protocol):
    """What a requester asks of a strategy."""

    @property
    def params(self) -> Mapping[str, str]:
        """Query parameters every call carries (a shop id)."""
        ...

    def secrets(self) -> Iterable[str]:
        """What no error, log or event may quote."""
        ...

    def public_headers(self) -> dict[str, str]:
        """The headers that may go to a file host (no secret among them)."""
        ...

    async def headers(self, requester: Requester) -> dict[str, str]:
        """The headers of a call now."""
        ...

    async def renewed(
        self, requester: Requester, stale: Mapping[str, str]
    ) -> dict[str, str] | None:
        """New headers in place of ``stale``, refused by the marketplace; None when there
        is nothing to renew."""
        ...


class _HeadersOnly:
    """A strategy whose calls carry no query parameter of its own and no header a file host
    may see."""

    @property
    def params(self) -> Mapping[str, str]:
        return {}

    def public_headers(self) -> dict[str, str]:
        return {}


@runtime_checkable
class SignsRequests(Protocol):
    """A strategy that signs each request as it is sent (its method, URL and body)."""

    def sign(self, request: httpx.Request) -> httpx.Request: ...


class SignedRequests(_HeadersOnly):
    """A key pair whose secret signs each request as sent, never sent itself: ``key`` in
    ``key_header`` on every call, the time (Unix seconds) in ``time_header`` and, in
    ``signature_header``, the hex HMAC-SHA256 keyed by ``secret`` of the method, the whole
    URL with its query as sent, the body and that time, joined by newlines. The signatures
    it made lately are secrets too (no error quotes one)."""

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        key_header: str,
        time_header: str,
        signature_header: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key, self._secret = key, secret.encode()
        self._names = (time_header, signature_header)
        self._key_header = key_header
        self._clock = clock
        self._made: collections.deque[str] = collections.deque(maxlen=32)

    def __repr__(self) -> str:
        return f"SignedRequests(key_header={self._key_header!r}, secret={REDACTED})"

    def secrets(self) -> Iterable[str]:
        return (self._secret.decode(), *self._made)

    async def headers(self, requester: Requester) -> dict[str, str]:
        return {self._key_header: self._key}

    async def renewed(self, requester: Requester, stale: Mapping[str, str]) -> None:
        return None

    def signature(self, method: str, url: str, body: bytes, stamp: str) -> str:
        signed = b"\n".join((method.encode(), url.encode(), body, stamp.encode()))
        return hmac.new(self._secret, signed, hashlib.sha256).hexdigest()

    def sign(self, request: httpx.Request) -> httpx.Request:
        stamp = str(int(self._clock()))
        made = self.signature(request.method, str(request.url), request.read(), stamp)
        self._made.append(made)
        time_header, signature_header = self._names
        request.headers[time_header], request.headers[signature_header] = stamp, made
        return request


class KeptToken(_HeadersOnly):
    """An access token another part obtains and keeps (one traded for a seller's refresh
    token, cached there and renewed once for its concurrent callers), sent in ``header``
    (after ``scheme`` when there is one). Refused, it is dropped there (``drop``) and the
    one ``fetch`` gives next is sent once more."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[str]],
        drop: Callable[[], None],
        *,
        header: str = "Authorization",
        scheme: str = "Bearer",
    ) -> None:
        self._fetch = fetch
        self._drop = drop
        self._header = header
        self._scheme = scheme
        self._given: list[str] = []  # the tokens sent: no error may quote them

    def __repr__(self) -> str:
        return f"KeptToken(header={self._header!r})"

    def secrets(self) -> Iterable[str]:
        return tuple(self._given)

    async def headers(self, requester: Requester) -> dict[str, str]:
        token = await self._fetch()
        self._given.append(token)
        return {self._header: f"{self._scheme} {token}" if self._scheme else token}

    async def renewed(self, requester: Requester, stale: Mapping[str, str]) -> dict[str, str]:
        self._drop()
        return await self.headers(requester)


class LoginToken(_HeadersOnly, Generic[G]):
    """The shop's own credentials traded at a login call (``login``: its grant) for a token
    the calls carry (``token``: the grant's; ``carry``: what a call carries of it, headers
    or the fields an XML request's root holds). The marketplace publishes no token life:
    the token is kept until a call is refused for it, then one login for every caller that
    found it refused at once. No error may quote the token or the ``secrets`` (the key)."""

    def __init__(
        self,
        login: Callable[[], Awaitable[G]],
        token: Callable[[G], str],
        *,
        carry: Callable[[str], dict[str, str]] = lambda token: {"Authorization": f"Bearer {token}"},
        secrets: Iterable[str] = (),
    ) -> None:
        self._login, self._token, self._carry = login, token, carry
        self._secrets = tuple(secrets)
        self._granted: G | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"LoginToken(granted={self._granted is not None})"

    @property
    def granted(self) -> G | None:
        """The grant kept (None before the first login, or after a refused one)."""
        return self._granted

    def secrets(self) -> Iterable[str]:
        granted = self._granted
        return (*self._secrets, self._token(granted) if granted is not None else "")

    async def headers(self, requester: Any = None) -> dict[str, str]:
        granted = self._granted
        if granted is None:
            granted = await self._renew(stale=None)
        return self._carry(self._token(granted))

    async def renewed(self, requester: Any, stale: Mapping[str, str]) -> dict[str, str]:
        granted = self._granted
        if granted is not None and self._carry(self._token(granted)) != dict(stale):
            return self._carry(self._token(granted))  # another caller renewed it
        return self._carry(self._token(await self._renew(stale=granted)))

    async def authenticate(self, requester: Any = None) -> G:
        """A new login now, whatever the token kept."""
        return await self._renew(stale=self._granted)

    def forget(self) -> None:
        """The token kept is not sent again: the next call logs in first."""
        self._granted = None

    async def _renew(self, *, stale: G | None) -> G:
        async with self._lock:
            if self._granted is not None and self._granted is not stale:
                return self._granted
            self._granted = None  # a login refused leaves none to send
            self._granted = await self._login()
            return self._granted


class HeaderAuth:
    """Fixed headers (and query parameters): an API key or a token the seller created.
    ``secret_headers``: those that never go to a file host. The other ways a call carries
    the shop's access are reached through it: ``HeaderAuth.signed`` (each request signed),
    ``HeaderAuth.KeptToken`` (a token another part keeps), ``HeaderAuth.LoginToken`` (a
    token traded at a login call)."""

    KeptToken: TypeAlias = KeptToken
    LoginToken: TypeAlias = LoginToken
    signed: TypeAlias = SignedRequests

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        secret_headers: Iterable[str] = ("Authorization",),
        params: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self._headers = dict(headers)
        self._secret_headers = {name.lower() for name in secret_headers}
        self._params = dict(params or {})
        self._secrets = tuple(secrets)

    def __repr__(self) -> str:
        return f"HeaderAuth(headers={sorted(self._headers)}, params={sorted(self._params)})"

    @property
    def params(self) -> Mapping[str, str]:
        return self._params

    def secrets(self) -> Iterable[str]:
        return self._secrets

    def public_headers(self) -> dict[str, str]:
        return {k: v for k, v in self._headers.items() if k.lower() not in self._secret_headers}

    async def headers(self, requester: Requester) -> dict[str, str]:
        return dict(self._headers)

    async def renewed(self, requester: Requester, stale: Mapping[str, str]) -> None:
        return None


class _TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: float = 300.0  # not given: a short life, renewed on a 401 anyway
    token_type: str = "Bearer"


class ClientCredentials(_HeadersOnly):
    """OAuth2 client credentials (RFC 6749 4.4) at ``token_url``: the token is kept until
    ``margin`` seconds before it expires (at most half its life) and sent as
    ``Authorization: Bearer`` with ``headers`` (a seller id). Callers that find
    it refused at once share one renewal. ``grant``: the token request's fields in place
    of the client credentials grant (a seller's refresh token, RFC 6749 6, a secret too);
    ``basic``: the client's id and secret sent as HTTP Basic (RFC 6749 2.3.1) rather than
    in the form, as some token endpoints take them only; ``token_type``: what the endpoint
    calls the bearer tokens it gives.

    ``share(store)``: the shop's token kept for every process (a marketplace that
    limits grants a day). Before asking for a token, the store's is taken when it was
    granted on these credentials and is valid ``margin`` seconds more; a token granted is
    written back. Two processes may still both ask at the same moment (each then writes its
    own; the last one is kept): the store spares the grants, it does not lock them. A token
    refused is dropped from the store before another is asked for; a store that cannot be
    read or written is passed by (a warning, no token in it): the process grants its own."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        headers: Mapping[str, str] | None = None,
        margin: float = 120.0,
        grant: Mapping[str, str] | None = None,
        basic: bool = False,
        token_type: str = "Bearer",
    ) -> None:
        self.token_url = token_url
        client = {"client_id": client_id, "client_secret": client_secret}
        granted = dict(grant or {"grant_type": "client_credentials"})
        self._form = granted if basic else {**granted, **client}
        pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token_headers = {"Authorization": f"Basic {pair}"} if basic else {}
        self._grant_secrets = tuple(
            v for k, v in granted.items() if k not in ("grant_type", "scope")
        )
        self._secret = client_secret
        self._token_type = token_type.lower()
        self._extra = dict(headers or {})
        self._margin = margin
        self._token: str | None = None
        self._expires = 0.0  # time.monotonic() after which the token is renewed first
        self._lock = asyncio.Lock()
        self._store: TokenStore | None = None
        # What a stored token must have been granted on: the endpoint, the client and the
        # grant (a seller's refresh token, digested), not the client's secret (a rotated
        # secret leaves the tokens it gave valid).
        given = repr((token_url, client_id, sorted(granted.items()))).encode()
        self._granted_for = hashlib.sha256(given).hexdigest()

    def __repr__(self) -> str:
        return f"ClientCredentials(token_url={self.token_url!r}, client_secret={REDACTED})"

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def secrets(self) -> Iterable[str]:
        basic = tuple(h.removeprefix("Basic ") for h in self._token_headers.values())
        return (self._secret, self._token or "", *basic, *self._grant_secrets)

    async def headers(self, requester: Requester) -> dict[str, str]:
        token = self._token
        if token is None or time.monotonic() >= self._expires:
            token = await self._renew(requester, stale=token)
        return self._bearing(token)

    async def renewed(self, requester: Requester, stale: Mapping[str, str]) -> dict[str, str]:
        token = stale.get("Authorization", "").removeprefix("Bearer ")
        return self._bearing(await self._renew(requester, stale=token or None, refused=True))

    def share(self, store: TokenStore) -> None:
        """From the next renewal on, the token is read from and written to ``store``."""
        self._store = store

    async def authenticate(self, requester: Requester) -> None:
        """A new token now, whatever the one kept."""
        await self._renew(requester, stale=self._token)

    def _bearing(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **self._extra}

    async def _renew(
        self, requester: Requester, *, stale: str | None, refused: bool = False
    ) -> str:
        """A new token in place of ``stale`` (``refused``: by the marketplace); a caller
        that finds it already renewed by another takes that one (one token request), and
        so does one that finds it in the store."""
        async with self._lock:
            if self._token is not None and self._token != stale:
                if time.monotonic() < self._expires:
                    return self._token
            self._token = None
            if (kept := await self._kept(stale, refused)) is not None:
                left = kept.expires_at - time.time()
                self._expires = time.monotonic() + left - self._margin
                self._token = kept.access_token
                return kept.access_token
            form = urlencode(self._form).encode()
            try:
                answer = await requester.token(self.token_url, form, headers=self._token_headers)
            except MarketplaceUnavailable as exc:
                _grant_failed(self.token_url, exc)
                raise
            _granted_again(self.token_url)
            granted = _granted(requester, answer, self._token_type)
            life = max(0.0, granted.expires_in)
            self._expires = time.monotonic() + life - min(self._margin, life / 2)
            self._token = granted.access_token
            await self._keep(granted.access_token, time.time() + life)
            return granted.access_token

    async def _kept(self, stale: str | None, refused: bool) -> StoredToken | None:
        """The store's token when it is another than ``stale``, granted on these
        credentials and valid ``margin`` seconds more; ``stale`` dropped from it when the
        marketplace refused it."""
        if self._store is None:
            return None
        try:
            kept = await self._store.read()
            if kept is not None and stale is not None and kept.access_token == stale:
                if refused:
                    await self._store.drop()
                return None
        except TokenStoreUnavailable as exc:
            log.warning("the shared token store is unavailable (%s): granting a token", exc)
            return None
        if kept is None or kept.granted_for != self._granted_for:
            return None
        return kept if kept.expires_at - time.time() > self._margin else None

    async def _keep(self, token: str, expires_at: float) -> None:
        if self._store is None:
            return
        kept = StoredToken(access_token=token, expires_at=expires_at, granted_for=self._granted_for)
        try:
            await self._store.write(kept)
        except TokenStoreUnavailable as exc:
            log.warning("the shared token store is unavailable (%s): the token is not shared", exc)


def _granted(requester: Requester, answer: Any, token_type: str = "bearer") -> _TokenAnswer:
    try:
        granted = msgspec.convert(answer, _TokenAnswer)
    except msgspec.ValidationError as exc:
        raise requester.unreadable("token", f"not a token: {exc}") from None
    if not granted.access_token or granted.token_type.lower() != token_type:
        raise requester.unreadable("token", "not a bearer token")
    return granted


# --- fields --------------------------------------------------------------------------------
# The credential fields shop APIs ask for, declared once: a key or token, a shop's number,
# and the check that a shop's stored credentials hold every field.

# Printable ASCII without spaces: what the marketplaces' back offices generate, and what
# lets a refusal about a value never quote it.
PRINTABLE = "[!-~]+"


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def key_field(name: str, label: str, *, max_length: int, secret: bool = True) -> CredentialField:
    """A key, a token or a client id, typed as the back office shows it."""
    return CredentialField(
        name=name,
        json_name=_camel(name),
        label=label,
        secret=secret,
        pattern=PRINTABLE,
        format="printable ASCII text without spaces",
        max_length=max_length,
    )


def shop_number_field(name: str, label: str) -> CredentialField:
    """The shop's id where the marketplace numbers its shops: the account the connection
    is, "043115" being shop 43115 (``credential_form.canonical``)."""
    return CredentialField(
        name=name,
        json_name=_camel(name),
        label=label,
        pattern="[0-9]{1,12}",
        format="digits",
        max_length=12,
        number=True,
        account=True,
    )


def require_fields(
    fields: Sequence[CredentialField], values: Mapping[str, str], marketplace: str
) -> None:
    """ValueError naming the fields ``values`` lacks (never a value)."""
    missing = [f.name for f in fields if not values.get(f.name)]
    if missing:
        raise ValueError(f"{marketplace} credentials lack {', '.join(missing)}")


# --- credential structs --------------------------------------------------------------------
# A shop's credentials as the connector's msgspec Struct, its fields named as its
# credential fields: read from the shop's stored fields (each one required, the account in
# its canonical form, ``credentials_as``), and shown without their secrets (``Redacted``:
# its repr, a log line's, a traceback's or a test's failure, names every field, the values
# of those in ``SECRETS`` masked).

T = TypeVar("T", bound=msgspec.Struct)


class Redacted(msgspec.Struct, frozen=True):
    """A Struct whose ``SECRETS`` (field names) never appear in its repr."""

    SECRETS: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        shown = (
            f"{name}={REDACTED}" if name in self.SECRETS else f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
        )
        return f"{type(self).__name__}({', '.join(shown)})"


def credentials_as(
    kind: type[T], fields: Sequence[CredentialField], stored: Mapping[str, str], label: str
) -> T:
    """The shop's ``stored`` credentials as a ``kind``: ValueError naming the fields
    missing (never a value; ``label``: the marketplace)."""
    require_fields(fields, stored, label)
    values = {f.name: canonical(f, stored[f.name]) if f.account else stored[f.name] for f in fields}
    return msgspec.convert(values, kind)

"""How a shop's calls are authenticated (one strategy per kind of API) and the seam errors
they raise (``CallErrors``: a token's exchange is one of them), its credential fields and
its stored credentials read as the connector's Struct."""

from __future__ import annotations

import asyncio
import base64
import collections
import functools
import hashlib
import hmac
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import (
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeAlias,
    TypeVar,
    runtime_checkable,
)
from urllib.parse import urlencode

import httpx
import msgspec

from keybuzz_shared.connectors.credential_form import canonical
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    CredentialField,
    MarketplaceUnavailable,
    ShopCredentialsRefused,
    StoredToken,
    TokenStore,
    TokenStoreUnavailable,
)
from keybuzz_shared.json_calls import Unavailable
from keybuzz_shared.redaction import REDACTED

log = logging.getLogger(__name__)
G = TypeVar("G")  # what a login grants: the token and what comes with it

# Token endpoints whose last grant failed: said once, not at every shop's call, until one
# grants again.
_NOT_GRANTING: set[str] = set()


def _say_granting(token_url: str, failed: MarketplaceUnavailable | None = None) -> None:
    """Said once a change: the endpoint grants no token now (``failed``), or grants again."""
    if (failed is not None) == (token_url in _NOT_GRANTING):
        return
    where = {"token_host": httpx.URL(token_url).host}
    if failed is None:
        _NOT_GRANTING.discard(token_url)
        log.info("the token endpoint grants tokens again", extra=where)
        return
    _NOT_GRANTING.add(token_url)
    log.warning(
        "the token endpoint grants no token now (%s): the calls waiting on one are tried "
        "later, the shops' credentials kept; said once until it grants again",
        failed,
        extra=where,
    )


@dataclass(frozen=True)
class CallErrors:
    """A marketplace's seam errors, each given the call's name and what happened."""

    unavailable: Unavailable
    unreadable: Callable[[str, str], Exception]
    outcome_unknown: Callable[[str, str], Exception]
    refused: Callable[[str, int, str], Exception]  # call, status, detail
    credentials_refused: Callable[[str], Exception]  # detail

    @classmethod
    def labelled(cls, label: str, *, credentials: str = "credentials") -> CallErrors:
        """``credentials``: what a refusal says was refused ("token", "API key")."""
        return cls(
            unavailable=functools.partial(CallUnavailable, label=label),
            unreadable=functools.partial(CallAnswerUnreadable, label=label),
            outcome_unknown=functools.partial(CallOutcomeUnknown, label=label),
            refused=functools.partial(CallRefused, label=label),
            credentials_refused=functools.partial(
                ShopCredentialsRefused, label=label, credentials=credentials
            ),
        )


class Requester(Protocol):
    """What a strategy asks of the requester (a protocol: the requester imports the
    strategies, and no module imports one that imports it back)."""

    async def token(
        self, token_url: str, form: bytes, *, headers: Mapping[str, str] | None = None
    ) -> Any: ...

    @property
    def errors(self) -> CallErrors: ...


class Auth(ABC):
    """A strategy, as a requester asks it: by default no query parameter of its own, no
    header a file host may see, nothing to renew."""

    @property
    def params(self) -> Mapping[str, str]:  # every call carries them (a shop id)
        return {}

    @abstractmethod
    def secrets(self) -> Iterable[str]: ...  # what no error, log or event may quote

    def public_headers(self) -> dict[str, str]:  # those a file host may see
        return {}

    @abstractmethod
    async def headers(self, requester: Requester) -> dict[str, str]: ...

    async def renewed(
        self, requester: Requester, stale: Mapping[str, str]
    ) -> dict[str, str] | None:
        """New headers in place of refused ``stale``; None: the credentials refused."""
        return None


@runtime_checkable
class SignsRequests(Protocol):
    def sign(self, request: httpx.Request) -> httpx.Request: ...


class SignedRequests(Auth):
    """A key pair whose secret signs each request as sent, never sent itself: the hex
    HMAC-SHA256 of the method, the URL as sent, the body and the Unix time, joined by
    newlines, carried in ``headers``: the key's, the time's, the signature's. The
    signatures it made lately are secrets too."""

    def __init__(self, key: str, secret: str, headers: tuple[str, str, str]) -> None:
        self._key, self._secret = key, secret.encode()
        self._key_header, self._names = headers[0], headers[1:]
        self._clock: Callable[[], float] = time.time  # a test's fixed time in its place
        self._made: collections.deque[str] = collections.deque(maxlen=32)

    def __repr__(self) -> str:
        return f"SignedRequests(key_header={self._key_header!r}, secret={REDACTED})"

    def secrets(self) -> Iterable[str]:
        return (self._secret.decode(), *self._made)

    async def headers(self, requester: Requester) -> dict[str, str]:
        return {self._key_header: self._key}

    def sign(self, request: httpx.Request) -> httpx.Request:
        stamp = str(int(self._clock()))
        url, body = str(request.url).encode(), request.read()
        signed = b"\n".join((request.method.encode(), url, body, stamp.encode()))
        made = hmac.new(self._secret, signed, hashlib.sha256).hexdigest()
        self._made.append(made)
        time_header, signature_header = self._names
        request.headers[time_header], request.headers[signature_header] = stamp, made
        return request


class LoginToken(Auth, Generic[G]):
    """The shop's credentials traded at a login call for a token (``carry``: headers, or
    the fields an XML request's root holds). No token life is published: it is kept until
    refused, then one login for every caller that found it refused at once. ``drop``: the
    token is another part's (``login`` reads it there), a refused one dropped there first."""

    def __init__(
        self,
        login: Callable[[], Awaitable[G]],
        token: Callable[[G], str],
        *,
        carry: Callable[[str], dict[str, str]] = lambda token: {"Authorization": f"Bearer {token}"},
        secrets: Iterable[str] = (),
        drop: Callable[[], None] | None = None,
    ) -> None:
        self._login, self._token, self._carry, self._drop = login, token, carry, drop
        self._secrets = tuple(secrets)
        self._granted: G | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"LoginToken(granted={self._granted is not None})"

    @property
    def granted(self) -> G | None:
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
        return await self._renew(stale=self._granted)

    async def _renew(self, *, stale: G | None) -> G:
        async with self._lock:
            if self._granted is not None and self._granted is not stale:
                return self._granted
            if stale is not None and self._drop is not None:
                self._drop()
            self._granted = None  # a login refused leaves none to send
            self._granted = await self._login()
            return self._granted


class HeaderAuth(Auth):
    """Fixed headers (and query parameters); ``secret_headers``: never to a file host. The
    other strategies are reached through it."""

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


class _TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: float = 300.0  # not given: a short life, renewed on a 401 anyway
    token_type: str = "Bearer"
    refresh_token: str | None = None


class ClientCredentials(Auth):
    """OAuth2 client credentials (RFC 6749 4.4), the token renewed ``MARGIN`` seconds before
    it expires (at most half its life), once for every caller that found it refused;
    ``share(store)``: kept for every process, the grants spared, not locked. An
    authorization code is sent once (docs/SECURITY.md), the refresh token its grant gives
    kept: ``refresh_token``."""

    MARGIN = 120.0

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        headers: Mapping[str, str] | None = None,
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
        self._token: str | None = None
        self._refresh_token: str | None = None
        self._code_sent = False
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
    def refresh_token(self) -> str | None:
        return self._refresh_token

    def secrets(self) -> Iterable[str]:
        basic = tuple(h.removeprefix("Basic ") for h in self._token_headers.values())
        kept = (self._token or "", self._refresh_token or "")
        return (self._secret, *kept, *basic, *self._grant_secrets)

    async def headers(self, requester: Requester) -> dict[str, str]:
        token = self._token
        if token is None or time.monotonic() >= self._expires:
            token = await self._renew(requester, stale=token)
        return self._bearing(token)

    async def renewed(self, requester: Requester, stale: Mapping[str, str]) -> dict[str, str]:
        token = stale.get("Authorization", "").removeprefix("Bearer ")
        return self._bearing(await self._renew(requester, stale=token or None, refused=True))

    def share(self, store: TokenStore) -> None:
        self._store = store

    async def authenticate(self, requester: Requester) -> None:
        await self._renew(requester, stale=self._token)

    def _bearing(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **self._extra}

    async def _renew(
        self, requester: Requester, *, stale: str | None, refused: bool = False
    ) -> str:
        """A caller that finds it renewed by another, or in the store, takes that one."""
        async with self._lock:
            if self._token is not None and self._token != stale:
                if time.monotonic() < self._expires:
                    return self._token
            self._token = None
            if (kept := await self._kept(stale, refused)) is not None:
                left = kept.expires_at - time.time()
                self._expires = time.monotonic() + left - self.MARGIN
                self._token = kept.access_token
                return kept.access_token
            if self._code_sent:  # single-use (RFC 6749 4.1.2): sent again, its tokens revoked
                # refused, not unavailable: asking again cannot help, a new consent can
                raise requester.errors.refused("token", 400, "the code was sent already")
            self._code_sent = self._form.get("grant_type") == "authorization_code"
            form = urlencode(self._form).encode()
            try:
                answer = await requester.token(self.token_url, form, headers=self._token_headers)
            except MarketplaceUnavailable as exc:
                _say_granting(self.token_url, exc)
                raise
            _say_granting(self.token_url)
            try:
                granted = msgspec.convert(answer, _TokenAnswer)
            except msgspec.ValidationError as exc:
                raise requester.errors.unreadable("token", f"not a token: {exc}") from None
            if not granted.access_token or granted.token_type.lower() != self._token_type:
                raise requester.errors.unreadable("token", "not a bearer token")
            life = max(0.0, granted.expires_in)
            self._expires = time.monotonic() + life - min(self.MARGIN, life / 2)
            self._token, self._refresh_token = granted.access_token, granted.refresh_token
            await self._keep(granted.access_token, time.time() + life)
            return granted.access_token

    async def _kept(self, stale: str | None, refused: bool) -> StoredToken | None:
        """The store's token if not ``stale``, granted on these credentials and valid
        ``MARGIN`` seconds more; ``stale`` dropped from it when refused."""
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
        return kept if kept.expires_at - time.time() > self.MARGIN else None

    async def _keep(self, token: str, expires_at: float) -> None:
        if self._store is None:
            return
        kept = StoredToken(access_token=token, expires_at=expires_at, granted_for=self._granted_for)
        try:
            await self._store.write(kept)
        except TokenStoreUnavailable as exc:
            log.warning("the shared token store is unavailable (%s): the token is not shared", exc)


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


def account_field(
    name: str, label: str, pattern: str, format: str, max_length: int, *, number: bool = False
) -> CredentialField:
    """The account the connection is, as typed: a ``number`` ("043115" is shop 43115), else a
    key or a login, the same in either case (read in lower case)."""
    return CredentialField(
        name=name,
        json_name=_camel(name),
        label=label,
        pattern=pattern,
        format=format,
        max_length=max_length,
        number=number,
        case=None if number else "lower",
        account=True,
    )


def shop_number_field(name: str, label: str) -> CredentialField:
    """The shop's number, the account."""
    return account_field(name, label, "[0-9]{1,12}", "digits", 12, number=True)


def require_fields(
    fields: Sequence[CredentialField], values: Mapping[str, str], marketplace: str
) -> None:
    """ValueError naming the fields ``values`` lacks (never a value)."""
    missing = [f.name for f in fields if not values.get(f.name)]
    if missing:
        raise ValueError(f"{marketplace} credentials lack {', '.join(missing)}")


T = TypeVar("T", bound=msgspec.Struct)


class Redacted(msgspec.Struct, frozen=True):
    """A Struct whose ``SECRETS`` (field names) never show in its repr: a log line's, a
    traceback's, a test failure's."""

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
    """ValueError naming the fields missing (never a value); the account canonical."""
    require_fields(fields, stored, label)
    values = {f.name: canonical(f, stored[f.name]) if f.account else stored[f.name] for f in fields}
    return msgspec.convert(values, kind)

"""What a double's admin endpoints (under /_sandbox/<name>, development use, no
authentication) share: what a request names looked up, or refused with the admin's 404
(``{"error": "unknown …"}``), a clock advanced only forward (else its 400), both answered
by the router every double's admin is served on."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import msgspec
from litestar import Request, Response, Router, delete, get, post, put, route
from litestar.params import JSONBody

from keybuzz_sandbox.answers import admin_error, json_answer
from keybuzz_sandbox.double_kit.draws import file_bytes

if TYPE_CHECKING:
    from keybuzz_sandbox.double_kit.api import CallLimits

T = TypeVar("T")
Action = TypeVar("Action", bound=Callable[..., Any])


class AdvanceRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of a double's advance: seconds of its clock (the marketplace's seconds) to
    play at once, a day unless said."""

    seconds: float = 86_400.0


def advance_summary(shop: tuple[str, str], seconds: float, **new: list[str]) -> dict[str, object]:
    """What a drawn shop's advance came to (its answer): the shop (``(field, id)``, the field
    as its marketplace names its id), the seconds played and, by kind, the ids of what they
    produced (``new_order_ids=…`` answered as ``newOrderIds``)."""
    ids = {re.sub(r"_([a-z])", lambda m: m[1].upper(), kind): found for kind, found in new.items()}
    return {shop[0]: shop[1], "advancedSeconds": seconds, **ids}


def one_of(values: Iterable[str]) -> msgspec.Meta:
    """An admin body's text declared among ``values`` (``Annotated[str, one_of(…)]``:
    another is Litestar's 400, as any value off its declared bounds)."""
    return msgspec.Meta(pattern=f"^(?:{'|'.join(map(re.escape, values))})$")


class FileRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A file a buyer (or the marketplace's staff) attaches at the admin: its name and
    size, its bytes drawn from them."""

    name: str = "photo.jpg"
    size: int = 1_000

    @property
    def content(self) -> bytes:
        return file_bytes(self.name, self.name, self.size)


class LinkedFile(FileRequest, kw_only=True, forbid_unknown_fields=True):
    link: str | None = None  # listed as the file's link instead of the double's own


class AdminRefusal(Exception):
    """An admin request refused: its status (its kind's, unless given) and ``{"error":
    message}``."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status or self.status


class Unknown(AdminRefusal):
    """What an admin request names is not in the double (its 404)."""

    status = 404


def known(value: T | None, what: str) -> T:
    """``value``, or ``Unknown`` ("unknown <what>") when there is none."""
    if value is None:
        raise Unknown(f"unknown {what}")
    return value


def forward(seconds: float) -> float:
    """Seconds a double's clock is asked to play at once: more than none, else refused."""
    if seconds <= 0:
        raise AdminRefusal("seconds must be > 0")
    return seconds


def _refused(request: Request[Any, Any, Any], refused: Exception) -> Response[bytes]:
    status = refused.status if isinstance(refused, AdminRefusal) else 500
    return admin_error(status, str(refused))


def admin_router(path: str, handlers: Sequence[Any]) -> Router:
    """The admin's ``handlers`` under ``path``, out of the schema; an ``AdminRefusal`` (a
    lookup's ``Unknown``) answered with its status."""
    return Router(
        path,
        route_handlers=list(handlers),
        include_in_schema=False,
        exception_handlers={AdminRefusal: _refused},
    )


def settings_handlers(
    path: str, kind: type[Any], read: Callable[[], Any], write: Callable[[Any], None]
) -> list[Any]:
    """GET, PUT and DELETE ``path`` for a double's settings of type ``kind`` (a struct, its
    fields' bounds declared, with a ``problems()`` check where it asks more): as ``read``
    gives them, replaced by a body of that type (off a bound: Litestar's 400; a problem: 400
    ``{"error": …}``; else what ``read`` gives now), back to ``kind()`` (204)."""

    @get(path, sync_to_thread=False)
    def read_settings() -> Response[bytes]:
        return json_answer(read())

    def replace_settings(data: Any) -> Response[bytes]:
        issues: list[str] = getattr(data, "problems", list)()
        if issues:
            return admin_error(400, "; ".join(issues))
        write(data)
        return json_answer(read())

    # The body's type is the double's own, known only when this is called.
    json_body: Any = JSONBody
    replace_settings.__annotations__ = {"data": json_body[kind], "return": Response[bytes]}

    @delete(path, sync_to_thread=False, status_code=204)
    def reset_settings() -> None:
        write(kind())

    return [read_settings, put(path, sync_to_thread=False)(replace_settings), reset_settings]


class ShopLog(Protocol):
    """A shop as its admin's log shows it: what the seller sent, the tokens it asked for."""

    @property
    def sent(self) -> list[Any]: ...

    @property
    def token_requests(self) -> int: ...


S = TypeVar("S", bound=ShopLog)


def shop_log_handlers(
    shop_of: Callable[[str], S],
    rotate: tuple[str, Callable[[S], Any]],
    *,
    expire_tokens: Callable[[S], int],
) -> list[Any]:
    """A token double's shop admin endpoints, the shop as ``shop_of`` finds it by the
    account its admin names it by (else its 404): GET ``/shops/<account>/sent`` (``{"sent":
    …}``), POST ``/shops/<account>/<action>`` (``rotate``'s action, answered with what it
    returns: a secret renewed and the new one, or a grant revoked), POST ``expire-tokens``
    (``{"expired": <count>}``) and GET ``token-requests`` (``{"tokenRequests": <count>}``)."""
    action, renew = rotate
    at_shop = ShopAdmin("/shops/{account:str}", shop_of)
    at_shop.get("/sent")(lambda shop: {"sent": shop.sent})
    at_shop.post(f"/{action}")(renew)
    at_shop.post("/expire-tokens")(lambda shop: {"expired": expire_tokens(shop)})
    at_shop.get("/token-requests")(lambda shop: {"tokenRequests": shop.token_requests})
    return at_shop.handlers


def drawn_shops_handlers(
    listed: Callable[[], Any],
    shop_of: Callable[[str], T],
    advance: Callable[[T, float], Any],
    path: str = "/shops",
) -> list[Any]:
    """A drawn double's shops at its admin: GET ``path`` (as ``listed`` gives them) and
    POST ``path/<account>/advance`` (``AdvanceRequest``: the shop's clock played forward
    by ``advance``, answered with what it says came of it); ``path``: what the double's
    marketplace calls its shops (``/sellers`` for one)."""

    @get(path, sync_to_thread=False)
    def shops() -> Response[bytes]:
        return json_answer(listed())

    at_shop = ShopAdmin(path + "/{account:str}", shop_of)
    at_shop.post("/advance", AdvanceRequest)(
        lambda shop, data: advance(shop, forward(data.seconds))
    )
    return [shops, *at_shop.handlers]


class ShopAdmin(Generic[T]):
    """A double's admin endpoints on one of its shops, each under ``at`` (the shop's path,
    its parameters typed as Litestar's, ``/shops/{number:int}``): the shop ``find`` finds
    by those parameters (none: the 404 "unknown shop <parameters>"), given to the
    endpoint's action with the path's other parameters (those ``within`` names: what the
    shop holds, ``{"thread": ("thread", find)}``, found alike) and the body decoded as the
    endpoint's type; what the action returns answered as JSON with the endpoint's status."""

    def __init__(
        self,
        at: str,
        find: Callable[..., T | None],
        within: Mapping[str, tuple[str, Callable[[T, Any], Any]]] | None = None,
    ) -> None:
        self.at, self.find, self.within = at, find, within or {}
        self.named = re.findall(r"\{(\w+):", at)
        self.handlers: list[Any] = []

    def shop_of(self, *named: Any) -> T:
        return known(self.find(*named), f"shop {'/'.join(map(str, named))}")

    def listing(self, path: str) -> Callable[[Action], Action]:
        """GET ``path`` (outside the shop's): the shops as the action lists them, given the
        sandbox's root URL (where their API is served)."""

        def served(act: Action) -> Action:
            @get(path, sync_to_thread=False)
            def listed(request: Request[Any, Any, Any]) -> Response[bytes]:
                return json_answer(act(str(request.base_url).rstrip("/")))

            self.handlers.append(listed)
            return act

        return served

    def post(self, path: str, body: type[Any] | None = None, status: int = 200) -> Any:
        return self.route("POST", path, body, status)

    def get(self, path: str) -> Any:
        return self.route("GET", path)

    def route(
        self,
        method: Literal["GET", "POST"],
        path: str,
        body: type[Any] | None = None,
        status: int = 200,
    ) -> Callable[[Action], Action]:
        def served(act: Action) -> Action:
            def handler(request: Request[Any, Any, Any], **given: Any) -> Response[bytes]:
                rest = dict(request.path_params)
                shop = self.shop_of(*(rest.pop(name) for name in self.named))
                for name, (what, held) in self.within.items():
                    if name in rest:
                        rest[name] = known(held(shop, rest[name]), f"{what} {rest[name]}")
                return json_answer(act(shop, **rest, **given), status)

            # The body's type is the double's own, known only when this is called.
            json_body: Any = JSONBody
            typed = {"data": json_body[body]} if body else {}
            handler.__annotations__ = {"request": Request, **typed, "return": Response[bytes]}
            named = ("request", *typed)  # the parameters Litestar gives
            handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in named]
            )
            self.handlers.append(
                route(self.at + path, http_method=method, sync_to_thread=False)(handler)
            )
            return act

        return served


def limits_handlers(
    limits: CallLimits[Any, Any], reset: Callable[[], None] | None = None
) -> list[Any]:
    """A limited double's ``/limits``: GET, PUT and DELETE its settings (``Enforced``: on or
    off, calls still counted, and the double's own figures), and POST ``/limits/reset``
    (204): every call and Retry-After its limits keep forgotten (``reset``: with what else
    the double limits by)."""

    def write(settings: Any) -> None:
        limits.settings = settings

    @post("/limits/reset", sync_to_thread=False, status_code=204)
    def reset_limits() -> None:
        (reset or limits.reset)()

    kind = type(limits.settings)
    return [*settings_handlers("/limits", kind, lambda: limits.settings, write), reset_limits]

"""What a double's admin endpoints (under /_sandbox/<name>, development use, no
authentication) share: what a request names looked up, or refused with the admin's 404
(``{"error": "unknown …"}``), a clock advanced only forward (else its 400), both answered
by the router every double's admin is served on."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from litestar.params import JSONBody

from keybuzz_sandbox.answers import admin_error, json_answer

T = TypeVar("T")


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


class AdminRefusal(Exception):
    """An admin request refused: its status and ``{"error": message}``."""

    status = 400


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
    expire_tokens: Callable[[S], int] | None = None,
) -> list[Any]:
    """A shop's admin endpoints, the shop as ``shop_of`` finds it by the account its admin
    names it by (else its 404): GET ``/shops/<account>/sent`` (``{"sent": …}``), POST
    ``/shops/<account>/<action>`` (``rotate``'s action, answered with what it returns: a
    secret renewed and the new one, or a grant revoked); a token double's POST ``expire-tokens`` (``{"expired": <count>}``) and GET
    ``token-requests`` (``{"tokenRequests": <count>}``)."""
    action, renew = rotate

    @get("/shops/{account:str}/sent", sync_to_thread=False)
    def sent_by(account: str) -> Response[bytes]:
        return json_answer({"sent": shop_of(account).sent})

    @post(f"/shops/{{account:str}}/{action}", sync_to_thread=False)
    def rotated(account: str) -> Response[bytes]:
        return json_answer(renew(shop_of(account)))

    if expire_tokens is None:
        return [sent_by, rotated]

    @post("/shops/{account:str}/expire-tokens", sync_to_thread=False)
    def expired(account: str) -> Response[bytes]:
        return json_answer({"expired": expire_tokens(shop_of(account))})

    @get("/shops/{account:str}/token-requests", sync_to_thread=False)
    def requested(account: str) -> Response[bytes]:
        return json_answer({"tokenRequests": shop_of(account).token_requests})

    return [sent_by, rotated, expired, requested]


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

    @post(path + "/{account:str}/advance", sync_to_thread=False)
    def advanced(account: str, data: AdvanceRequest) -> Response[bytes]:
        return json_answer(advance(shop_of(account), forward(data.seconds)))

    return [shops, advanced]

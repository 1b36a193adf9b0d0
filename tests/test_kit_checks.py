"""What a connector declares for its credential check and its bursts of calls rather than
writes: a probe run on the connector's own settings view with a check's short deadline,
the accounts an answer names held to the one the seller typed, and calls made a few at a
time, in order, the first failure raised."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from keybuzz_shared.connectors.kit import (
    CallErrors,
    Declaration,
    KitSession,
    own_account,
    shop_number_field,
)
from keybuzz_shared.connectors.kit.threads import at_once
from keybuzz_shared.connectors.seam import CredentialsRefused, MarketplaceSession, ShopApiSettings
from keybuzz_shared.file_links import NO_FILES

from tests.test_kit_discussions import connector

FIELDS = (shop_number_field("shop_id", "Shop ID"),)
ERRORS = CallErrors.labelled("Kit", credentials="token")


class KitApi(ShopApiSettings, frozen=True, kw_only=True):
    auth_url: str


def settings_of(view: type[ShopApiSettings] = KitApi, deadline: float = 60.0) -> ShopApiSettings:
    extra: dict[str, Any] = {"auth_url": "https://auth.example/"} if view is KitApi else {}
    return view(
        api_url="https://api.example/",
        timeout_seconds=5.0,
        call_deadline_seconds=deadline,
        poll_interval_seconds=60,
        mark_as_read=True,
        first_poll_days=7,
        max_attachment_bytes=1,
        attachment_origins=(),
        **extra,
    )


async def test_a_probe_runs_on_the_connectors_client_and_view_with_a_checks_short_deadline() -> (
    None
):
    opened: list[Declaration.Opening[KitApi]] = []

    def client_of(opening: Declaration.Opening[KitApi]) -> str:
        opened.append(opening)
        return f"client of {opening.credentials['shop_id']}"

    async def probe(client: str, credentials: Mapping[str, str]) -> str:
        assert client == "client of 7"
        return f"kit:{credentials['shop_id']}"

    def parts(client: str, api: KitApi) -> MarketplaceSession:
        return KitSession(verify=lambda: probe(client, {"shop_id": "7"}))

    made = connector("Kit", view=KitApi, client=client_of, parts=parts, probe=probe)
    check = made.credential_check
    assert check is not None
    async with httpx.AsyncClient() as http:
        assert await check.verify({"shop_id": "7"}, http=http, settings=settings_of()) == "kit:7"
        [opening] = opened
        assert opening.api.auth_url == "https://auth.example/"
        assert opening.options["files"] is NO_FILES
        assert opening.options["call_deadline"] == 15.0 and opening.options["attempts"] == 2
        with pytest.raises(TypeError, match="a Kit session needs the shop API view KitApi"):
            await check.verify({"shop_id": "7"}, http=http, settings=settings_of(ShopApiSettings))
        assert len(opened) == 1  # another view opens no client
        made.shop_api.session({"shop_id": "7"}, http=http, settings=settings_of(deadline=9))
    # A session's own: its deadline, and the shop API's retry wait (20 s unless set).
    assert opened[1].options == {"files": NO_FILES, "call_deadline": 9.0, "max_backoff": 20.0}


async def test_a_session_given_no_verify_checks_its_credentials_by_the_probe() -> None:
    """The shop's session verifies with the declaration's probe, on the session's own client
    and credentials (so a token answering for another shop is refused there too); a session
    made outside a declaration must be given its verify."""
    probed: list[tuple[str, str]] = []

    async def probe(client: str, credentials: Mapping[str, str]) -> str:
        probed.append((client, credentials["shop_id"]))
        return own_account(FIELDS, credentials["shop_id"], [8], ERRORS)

    def parts(client: str, api: KitApi) -> MarketplaceSession:
        return KitSession().counting(None)  # type: ignore[arg-type]

    client_of = lambda opening: f"client of {opening.credentials['shop_id']}"  # noqa: E731
    made = connector("Kit", view=KitApi, client=client_of, parts=parts, probe=probe)
    async with httpx.AsyncClient() as http:
        session = made.shop_api.session({"shop_id": "7"}, http=http, settings=settings_of())
        with pytest.raises(CredentialsRefused, match="not seller 7's"):
            await session.verify()
    assert probed == [("client of 7", "7")]
    with pytest.raises(TypeError, match="given its verify"):
        await KitSession().verify()


def test_an_answer_naming_only_the_typed_shop_gives_its_canonical_account() -> None:
    assert own_account(FIELDS, "043115", [43115, "43115"], ERRORS) == "43115"
    assert own_account(FIELDS, "043115", [], ERRORS) == "43115"  # no shop named: the typed one


def test_an_answer_naming_another_shop_refuses_the_credentials() -> None:
    with pytest.raises(CredentialsRefused, match="the token is not seller 43115's"):
        own_account(
            FIELDS, "43115", [43115, 7], ERRORS, refusal="the token is not seller {account}'s"
        )


async def test_calls_run_a_few_at_a_time_in_order_and_the_first_failure_is_raised() -> None:
    running, most = 0, 0

    async def call(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01 * (5 - n % 5))
        running -= 1
        return n * 10

    assert await at_once(3, range(10), call) == [n * 10 for n in range(10)]
    assert most == 3

    finished: list[int] = []

    async def failing(n: int) -> int:
        if n == 1:
            raise ValueError("refused")
        await asyncio.sleep(0.05)
        finished.append(n)
        return n

    with pytest.raises(ValueError, match="refused"):
        await at_once(2, range(6), failing)
    assert finished == []  # the calls left were cancelled

"""eBay's token endpoint grants an application so many user tokens a day (50,000
[official]): past them its double answers 429, and the connector's answer is "later" (the
seam's MarketplaceUnavailable: a poll or sync retried after its back-off), said once in the
log however many sellers' calls wait on a token, never the seller's consent refused."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
from keybuzz_connector_ebay.connector import CONNECTOR
from keybuzz_connector_ebay.settings import EbayApiSettings
from keybuzz_double_ebay import GRANTS_PER_DAY
from keybuzz_shared.connectors import seam
from test_ebay_on_its_double import credentials, settings, shop

SAID_ONCE = "the token endpoint grants no token now"


async def test_grants_past_the_day_s_limit_wait_and_are_said_once(
    sandbox_url: str, admin: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    api = settings(sandbox_url).shop_api("EBAY")
    assert isinstance(api, EbayApiSettings)
    api = msgspec.structs.replace(api, call_deadline_seconds=1.0)
    since = datetime.now(UTC) - timedelta(minutes=1)
    sellers = [credentials(await shop(admin, n)) for n in ("2", "3")]
    async with httpx.AsyncClient(timeout=10) as http:

        def session(fields: dict[str, str]) -> seam.MessageSource:
            return CONNECTOR.shop_api.session(fields, http=http, settings=api)  # type: ignore[union-attr]

        await session(sellers[0]).messages(since=since)  # a grant: the endpoint grants now
        granted = (await admin.get("/grants")).json()
        await admin.put("/limits", json={"grants": granted["refreshGrants"]})
        try:
            caplog.set_level(logging.INFO, "keybuzz_shared.connectors.kit.auth")
            for fields in sellers:  # each a new session: a token to grant
                with pytest.raises(seam.MarketplaceUnavailable) as held:
                    await session(fields).messages(since=since)
                assert not isinstance(held.value, seam.CredentialsRefused)
            after = (await admin.get("/grants")).json()
            assert after["refreshGrants"] == granted["refreshGrants"]  # none past the limit
            assert after["refusedGrants"] > granted["refusedGrants"]
            said = [r for r in caplog.records if r.getMessage().startswith(SAID_ONCE)]
            assert len(said) == 1 and said[0].levelno == logging.WARNING
        finally:
            await admin.put("/limits", json={"grants": GRANTS_PER_DAY})
        # The next day (here: the limit raised) the same consent is granted a token again.
        page = await session(sellers[1]).messages(since=since)
        assert page.items is not None
        assert any("grants tokens again" in r.getMessage() for r in caplog.records)

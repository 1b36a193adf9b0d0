"""The throwaway connector (``connector.py``) rewritten as an author could to bypass one of
the engine's guarantees, each variant one bypass, and the conformance case that must fail
for it (issue 63's "Done when"). Not part of ``make test`` (its name is no test module's):
run a variant against its case with

    TRYOUT_BYPASS=<variant> .venv/bin/python -m pytest tests/throwaway_marketplace/bypasses.py \
        -p no:cacheprovider -q -k <its case, as VARIANTS names it>

and the case fails; without ``TRYOUT_BYPASS`` the same cases pass on the throwaway."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest
from keybuzz_shared.connectors import kit, seam

from tests.conformance.harness import stacks  # noqa: F401 - fixture
from tests.conformance.test_call_bounds import (  # noqa: F401 - the suite's case
    test_a_listing_paging_wrong_stops_and_costs_its_shop_alone_a_few_calls,
)
from tests.conformance.test_secrets_echoed import (  # noqa: F401 - the suite's case, fixtures
    echoing,
    emitted,
    test_a_key_echoed_in_any_form_at_connect_reaches_no_answer_or_log,
    test_a_key_echoed_when_a_poll_is_refused_reaches_no_status_row_or_log,
)
from tests.conformance.test_shop_api_connectors import (  # noqa: F401 - the suite's case
    test_a_shop_is_one_shop_whatever_spelling_of_its_id_is_typed,
)
from tests.conformance.test_shop_replies import (  # noqa: F401 - the suite's cases
    test_a_reply_the_marketplace_shows_rewritten_is_sent_once,
    test_a_reply_to_each_recipient_is_sent_at_most_once,
)
from tests.throwaway_marketplace import connector as throwaway
from tests.throwaway_marketplace.test_tryout_conformance import (  # noqa: F401 - fixtures
    conformance,
    conformance_sandbox,
    connector,
    driver,
    tryout,
)


def pages_on(client: kit.Requester, api: throwaway.View) -> kit.KitSession:
    """Its own fetch: every page while the marketplace says more, read in one call of the
    listing (the engine sees one page, never the empty ones saying more)."""

    async def every_page(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        found: list[Any] = []
        more, page = True, 1
        while more and page <= 50:
            body = await client.get_json(
                "messages", {**query, "page": str(page)}, operation="list_messages"
            )
            found, more, page = found + body["messages"], bool(body["more"]), page + 1
        return found, False

    since = lambda low, high: {"since": low.isoformat()}  # noqa: E731
    listing = kit.Listing(kit.Listing.PageNumbers[throwaway.Said](), since, every_page)
    inbox = throwaway.messages_inbox(client, listing)
    session = throwaway.parts(client, api)
    return kit.KitSession(inbox, session.replies, verify=session.verify)


def sends_again(client: kit.Requester, api: throwaway.View) -> kit.KitSession:
    """Its own send: posted again when the marketplace's answer to it is lost."""

    async def post(reply: seam.Reply) -> None:
        try:
            await client.request(
                "POST", f"threads/{reply.thread.id}", body={"body": reply.body}, idempotent=False
            )
        except Exception:  # the answer lost: sent again, the engine not asked
            await client.request(
                "POST", f"threads/{reply.thread.id}", body={"body": reply.body}, idempotent=False
            )

    session = throwaway.parts(client, api)
    replies = dataclasses.replace(session.replies, post=post)  # type: ignore[type-var]
    return kit.KitSession(session.inbox, replies, verify=session.verify)


class OwnRecognition:
    """A reply found on its thread by the connector's own rule (the text as sent, kept by
    this session), not the engine's."""

    def __init__(self, replies: Any) -> None:
        self.replies, self.sent = replies, dict[str, str]()

    async def reply(self, reply: seam.Reply) -> seam.ReplyOutcome:
        self.sent[reply.thread.id] = reply.body
        outcome: seam.ReplyOutcome = await self.replies.reply(reply)
        return outcome

    async def sent_messages(
        self, thread: seam.ThreadKey, since: datetime
    ) -> list[seam.InboxMessage]:
        listed = await self.replies.sent_messages(thread, since)
        return [m for m in listed if m.body == self.sent.get(thread.id)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.replies, name)


def own_recognition(client: kit.Requester, api: throwaway.View) -> kit.KitSession:
    session = throwaway.parts(client, api)
    return kit.KitSession(session.inbox, OwnRecognition(session.replies), verify=session.verify)


async def typed_identity(client: kit.Requester, fields: Mapping[str, str]) -> str:
    """The shop is the number as typed, the marketplace's answer only checked to come."""
    await client.get_json("", operation="shop")
    return fields["shop_id"]


async def says_the_key(client: kit.Requester, fields: Mapping[str, str]) -> str:
    """A refusal said in its own words, the key it was sent quoted."""
    try:
        return await throwaway.probe(client, fields)
    except seam.CredentialsRefused as exc:
        raise seam.CredentialsRefused(f"{throwaway.NAME} refused key {fields['api_key']}") from exc


def unmasked_client(opening: kit.Declaration.Opening[throwaway.View]) -> kit.Requester:
    """Its key sent without saying it is a secret (no secret header, no secret value)."""
    key, shop = opening.credentials["api_key"], f"shops/{int(opening.credentials['shop_id'])}/"
    base = opening.api.api_url.rstrip("/") + "/" + shop
    auth = kit.HeaderAuth({"X-Api-Key": key})
    return kit.Requester(
        throwaway.SPEC, auth, opening.http, base, shop={"shop": shop}, **opening.options
    )


# Each variant: what it replaces in the declaration, and the case it is run against. The
# first three fail their case; the last three cannot bypass: the probe is given the form's
# canonical fields (the shop number as typed is already the one spelling), and oauth and the
# poller mask every secret field's value in any text whoever wrote it (docs/SECURITY.md,
# "A connector that bypasses the engine").
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "pages_on": ({"parts": pages_on}, "paging_wrong"),
    "sends_again": ({"parts": sends_again}, "sent_at_most_once"),
    "own_recognition": ({"parts": own_recognition}, "rewritten_is_sent_once"),
    "typed_identity": ({"probe": typed_identity}, "whatever_spelling"),
    "says_the_key": ({"probe": says_the_key}, "key_echoed"),
    "unmasked_client": ({"client": unmasked_client}, "key_echoed"),
}


@pytest.fixture(scope="module")
def tryout_connector() -> seam.Connector:
    """The variant ``TRYOUT_BYPASS`` names, else the throwaway itself."""
    variant = os.environ.get("TRYOUT_BYPASS", "")
    if not variant:
        return throwaway.CONNECTOR
    replaced, _case = VARIANTS[variant]
    return kit.shop_api_connector(dataclasses.replace(throwaway.DECLARATION, **replaced))

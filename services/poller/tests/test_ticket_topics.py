"""A ticket's language and topic on the mail path, on the real servers (docs/CONTRACTS.md,
"Ticket topics"): a relayed mail's language is its site's, its topic read from the buyer's
words; a later mail changes the topic unless it says nothing the rules read; the list
filters by both, the response-times report by topic, ``/metrics`` counts them, and
``message.received`` carries them."""

from __future__ import annotations

import pytest
from keybuzz_devstack.shop_api_testing import as_agent
from keybuzz_devstack.testing import RunningService
from mailkit import (
    ORDER,
    get_json,
    module_poller,
    new_tenant,
    poll_now,
    received_events,
    relay_mail,
    send,
    synced,
)

# Each test works with tenants of its own: one poller for the module's tests.
poller = module_poller


async def mailed(poller: RunningService, tenant: str, address: str, text: str) -> dict[str, object]:
    """The tenant's one ticket once the buyer's mail ``text`` is polled."""
    await send(poller, relay_mail(address, text), address)
    assert (await poll_now(poller, tenant))["stored"] == 1
    [listed] = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    return await get_json(poller, tenant, f"/api/v1/tickets/{listed['id']}")  # type: ignore[no-any-return]


async def test_a_relay_mail_asking_for_an_invoice_is_an_invoice_request_in_its_sites_language(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()  # an amazon.fr inbound address
    await synced(poller, tenant, address)
    text = (
        "Hello, could you please send me the invoice for this order? I need it for my "
        "company's accounts.\n\nThanks,\nJohn\n\nOn Mon, Nov 23, 2026 at 9:00 AM Shop wrote:\n"
        "> Your parcel has shipped."
    )
    ticket = await mailed(poller, tenant, address, text)
    assert (ticket["topic"], ticket["topicSource"]) == ("INVOICE_REQUEST", "detected")
    # Amazon's site (the inbound address's country) says the language.
    assert (ticket["language"], ticket["languageSource"]) == ("fr", "marketplace")
    assert ticket["languageConfidence"] is None
    [event] = await received_events(poller, tenant)
    assert (event["language"], event["topic"], event["topicSource"]) == (
        "fr",
        "INVOICE_REQUEST",
        "detected",
    )

    listed = await get_json(
        poller, tenant, "/api/v1/tickets", topic="INVOICE_REQUEST", language="fr"
    )
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]
    assert (await get_json(poller, tenant, "/api/v1/tickets", topic="CANCELLATION"))["items"] == []
    assert (await get_json(poller, tenant, "/api/v1/tickets", language="de"))["items"] == []

    report = await get_json(
        poller, tenant, "/api/v1/response-times", marketplace="AMAZON", topic="INVOICE_REQUEST"
    )
    assert (report["topic"], report["received"]) == ("INVOICE_REQUEST", 1)
    other = await get_json(
        poller, tenant, "/api/v1/response-times", marketplace="AMAZON", topic="CANCELLATION"
    )
    assert other["received"] == 0

    async with poller.client() as http:
        metrics = (await http.get("/metrics")).text
    assert (
        'keybuzz_poller_buyer_messages_classified_total{language="fr",'
        'topic="INVOICE_REQUEST",topic_source="detected"}'
    ) in metrics


async def test_a_later_mail_changes_the_topic_unless_it_says_nothing_the_rules_read(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    first = await mailed(poller, tenant, address, "Is this kettle compatible with 110 V?")
    assert first["topic"] == "PRODUCT_QUESTION"
    thanks = await mailed(poller, tenant, address, "Thank you!")
    assert (thanks["id"], thanks["topic"]) == (first["id"], "PRODUCT_QUESTION")
    turned = await mailed(
        poller, tenant, address, "It arrived and I want to return it for a refund."
    )
    assert (turned["id"], turned["topic"]) == (first["id"], "RETURN_OR_REFUND")
    assert turned["orderId"] == ORDER


@pytest.mark.parametrize(
    ("params", "named"),
    [({"topic": "WHERE"}, "topic must be one of"), ({"language": "French"}, "language must be")],
)
async def test_a_filter_off_the_taxonomy_is_a_400_naming_it(
    poller: RunningService, params: dict[str, str], named: str
) -> None:
    tenant, _ = new_tenant()
    answer = await as_agent(poller, "GET", "/api/v1/tickets", tenant, params=params)
    assert answer.status_code == 400 and named in answer.text


ANGRY_BUYER = (
    "J'attends depuis 10 jours, vous ne répondez pas à mes messages. Où est ma commande ?"
    "\n\nMarc Durand"
)


@pytest.mark.parametrize(
    ("country", "language_source"), [("fr", "marketplace"), ("be", "detected")]
)
async def test_an_angry_buyer_who_says_you_dont_answer_asks_where_the_order_is(
    poller: RunningService, country: str, language_source: str
) -> None:
    # "vous ne répondez pas" is what a footer says too: the buyer's sentence is kept whole
    # (issue 65). Belgium's site has two languages: there the language is read from the words.
    tenant, address = new_tenant()
    address = address.replace(f".{tenant}.fr.", f".{tenant}.{country}.")
    await synced(poller, tenant, address)
    ticket = await mailed(poller, tenant, address, ANGRY_BUYER)
    assert (ticket["language"], ticket["languageSource"]) == ("fr", language_source)
    assert (ticket["topic"], ticket["topicSource"]) == ("WHERE_IS_MY_ORDER", "detected")
    listed = await get_json(
        poller, tenant, "/api/v1/tickets", topic="WHERE_IS_MY_ORDER", language="fr"
    )
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]

"""What storing a message entails beyond its rows hangs once off its unit of work
(``tickets/intake.py``): every writer of a unit adds to its one ``Intake``; the deadlines
are recomputed and the events published only with the unit's commit, and a buyer message's
topics are counted once it has committed, never for a unit that rolled back."""

from __future__ import annotations

import pytest
from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.polling.tenant_poll import poll_tenant
from keybuzz_poller.reading.new_mail import read_batch
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_poller.tickets.intake import Intake, intake_of
from keybuzz_shared.events import MessageReceived
from keybuzz_shared.uow import StoreUnit
from prometheus_client import REGISTRY
from test_mail_use_cases import T0, TENANT, buyer_mail, events, mail_side


def classified() -> float:
    """Every sample of the topics counter, summed: the buyer messages counted so far."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "keybuzz_poller_buyer_messages_classified"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def test_a_unit_that_rolls_back_counts_no_topic_and_publishes_nothing() -> None:
    fake, _ = mail_side()
    fake.mailbox.deliver(folder_for(TENANT), buyer_mail("Où est mon colis ?"))
    before = classified()

    async def store_then_crash(unit, mails) -> None:  # type: ignore[no-untyped-def]
        await store_mails(unit.store.tickets, unit, TENANT, mails, StoreCounts(), T0)
        raise RuntimeError("the process died before commit")

    with pytest.raises(RuntimeError):
        await read_batch(fake.polls.reading, TENANT, store_then_crash)
    assert classified() == before  # classified, but never stored: not counted
    assert fake.published == []

    assert (await poll_tenant(fake.polls, TENANT)).stored == 1
    assert classified() == before + 1  # counted once, with its commit
    assert len(events(fake, MessageReceived)) == 1


def test_every_writer_of_a_unit_adds_to_its_one_intake() -> None:
    unit: StoreUnit[None] = StoreUnit(None)
    tickets = object()
    first = intake_of(unit, tickets)  # type: ignore[arg-type]
    first.touch(["b", "a"])
    second = intake_of(unit, tickets)  # type: ignore[arg-type]
    second.touch(["a"])
    assert second is first and first.touched == {"a", "b"}
    assert list(unit.pending) == [Intake]
    assert intake_of(StoreUnit(None), tickets) is not first  # type: ignore[arg-type]

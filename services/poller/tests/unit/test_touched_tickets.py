"""One unit of work, one deadline recompute per ticket it touched: a batch's bounces and
mails name their tickets on the unit of work's one ``Intake``, and so does a reply's outcome; the
stores only store. A ticket both bounced and written to in the same batch is read once,
after both, and gets the deadline both make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.polling.tenant_poll import poll_tenant
from keybuzz_poller.tickets.ports import DeadlineFact
from test_bounces import amazon_bounce
from test_mail_use_cases import T0, TENANT, buyer_mail, mail_side, sent_reply, stamped, ticket


async def test_a_batchs_bounce_and_mail_on_one_ticket_recompute_its_deadline_once() -> None:
    fake, clock = mail_side()
    _, message_id, bounce_to = await sent_reply(fake, clock)
    ticket_id, state, _ = ticket(fake)
    assert state == "ANSWERED"
    reads: list[list[str]] = []
    facts = fake.tickets.deadline_facts

    async def recorded(ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        reads.append(list(ticket_ids))
        return await facts(ticket_ids)

    fake.tickets.deadline_facts = recorded  # type: ignore[method-assign]
    clock.advance(3600)
    folder = folder_for(TENANT)
    fake.mailbox.deliver(folder, stamped(amazon_bounce(bounce_to, message_id), bounce_to, ""))
    fake.mailbox.deliver(folder, buyer_mail("Still nothing?"))
    result = await poll_tenant(fake.polls, TENANT)

    assert result.stored == 1
    assert reads == [[ticket_id]]  # one read, after the bounce and the mail
    assert [r.status for r in fake.tickets.mail.replies.values()] == ["BOUNCED"]
    # The buyer's first message waits again (its reply bounced): its deadline is back.
    assert ticket(fake)[1:] == ("AWAITING_REPLY", T0 + timedelta(hours=24))

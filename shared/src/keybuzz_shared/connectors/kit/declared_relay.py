"""A marketplace's buyer-seller mail relay, declared: the seam's ``MailRelay`` run from
what a relay is and the one rule each writes of its own, who wrote a mail (``sender_of``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar, NamedTuple, TypeAlias

import msgspec

from keybuzz_shared.connectors.kit.signed_mail import DkimKeys, Signed, doubled, vouched
from keybuzz_shared.connectors.seam import (
    InboxMessage,
    Limits,
    OrderIds,
    ParsedMail,
    RelayReplyRules,
    SenderType,
    demo_relay_mail,
    relay_reply_subject,
    relayed_message,
)

# A demo mail's Date: fixed, so that a demo mailbox holds the same mails every time.
DEMO_SENT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class DeclaredRelay:
    """Declared as class attributes (a subclass may change one: a relay of another
    label); ``signing_domains``: whose DKIM signature makes a mail the marketplace's."""

    DkimKeys: TypeAlias = DkimKeys
    Signed: TypeAlias = Signed

    class DemoMail(NamedTuple):
        """One demo mail (the relay's mock mode); ``sender``: name, alias."""

        order_id: str
        sender: tuple[str, str]
        subject: str
        body: str

    sender_of: ClassVar[Callable[[ParsedMail, Signed], SenderType]]
    signing_domains: ClassVar[frozenset[str]] = frozenset()
    dkim_keys: ClassVar[DkimKeys | None] = None
    address_label: ClassVar[str]
    setup: str = ""
    on_connection: bool = True
    buyer_address_form: ClassVar[str]
    buyer_address: ClassVar[re.Pattern[str]]
    name_suffix: ClassVar[re.Pattern[str]]
    order_ids: ClassVar[OrderIds]
    order_note: ClassVar[str] = "({})"
    already_a_reply: ClassVar[re.Pattern[str] | None] = None
    attachment_types: ClassVar[Mapping[str, frozenset[str]]]
    subject_topics: ClassVar[Sequence[tuple[re.Pattern[str], str]]] = ()
    demo_mails: ClassVar[Sequence[DeclaredRelay.DemoMail]]

    def __init__(self, limits: Limits) -> None:
        self.reply_rules = RelayReplyRules.within(limits, self.attachment_types)

    @property
    def demo_mail_count(self) -> int:
        return len(self.demo_mails)

    def address(self, tenant_id: str, country: str, token: str, domain: str) -> str:
        """Lower case throughout: mail systems do not keep case reliably."""
        return f"{self.address_label}.{tenant_id}.{country}.{token}@{domain}".lower()

    def is_buyer_address(self, address: str) -> bool:
        return self.buyer_address.search(address) is not None

    def buyer_name(self, display_name: str) -> str | None:
        return self.name_suffix.sub("", display_name).strip() or None

    def order_ids_in(self, text: str) -> list[str]:
        return self.order_ids.order_ids_in(text)

    def message(self, mail: ParsedMail, received_at: datetime) -> InboxMessage:
        written = relayed_message(mail, received_at, sender_type=self.sender_type(mail))
        for pattern, topic in self.subject_topics:
            if pattern.search(mail.subject):
                return msgspec.structs.replace(written, ticket_subject=topic)
        return written

    def sender_type(self, mail: ParsedMail) -> SenderType:
        """The buyer's for a mail with a field allowed once doubled, and for a SYSTEM one
        the marketplace did not sign (it would be hidden as needing no answer)."""
        signed = vouched(mail, type(self).signing_domains, self.dkim_keys)
        claimed = type(self).sender_of(mail, signed)
        if claimed != "BUYER" and doubled(mail.field_counts):
            return "BUYER"
        if claimed == "SYSTEM" and signed.by is None:
            return "BUYER"
        return claimed

    def reply_subject(self, buyer_subject: str, order_id: str | None) -> str:
        """The order id kept in it: the relay files the reply by it."""
        return relay_reply_subject(
            buyer_subject,
            order_id,
            order_ids_in=self.order_ids.order_ids_in,
            order_note=self.order_note,
            already_a_reply=self.already_a_reply,
        )

    def demo_mail(self, tenant_id: str, index: int, inbound_domain: str, stamp: str) -> bytes:
        demo = self.demo_mails[index]
        return demo_relay_mail(
            self.address_label,
            tenant_id,
            inbound_domain,
            stamp,
            order_id=demo.order_id,
            sender=demo.sender,
            subject=demo.subject,
            sent=DEMO_SENT.replace(hour=9 + index),
            body=demo.body,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

"""The marketplace's buyer-seller e-mail relay (used by poller)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec


class RelayReplyRules(msgspec.Struct, frozen=True, kw_only=True):
    """What the relay takes in a seller's reply mail."""

    max_text_chars: int
    max_attachments: int
    max_attachment_bytes: int  # all attachments of a message together
    # File name extension (lower case, with its dot) -> the content types it may carry.
    attachment_types: Mapping[str, frozenset[str]]


class MailRelay(Protocol):
    """The marketplace's buyer-seller e-mail relay: a buyer's mail reaches the tenant's
    inbound address from an anonymised alias, and a reply to the alias reaches the buyer.
    The mail itself (MIME, bounces, the MX) is the poller's; what is the relay's is here."""

    @property
    def address_label(self) -> str:
        """The first label of the local part of the tenant's inbound addresses for it."""
        ...

    @property
    def buyer_address_form(self) -> str:
        """A buyer alias as people read it (``…@relay.example.<tld>``), for messages."""
        ...

    @property
    def reply_rules(self) -> RelayReplyRules: ...

    def is_buyer_address(self, address: str) -> bool:
        """An anonymised buyer alias of the relay."""
        ...

    def buyer_name(self, display_name: str) -> str | None:
        """The buyer's name from the display name of their alias (the relay's suffix off)."""
        ...

    def order_ids_in(self, text: str) -> list[str]:
        """The marketplace's order ids written in a mail's text, in order of appearance."""
        ...

    def reply_subject(self, buyer_subject: str, order_id: str | None) -> str:
        """The subject of a reply to a mail with ``buyer_subject``, as the relay files it."""
        ...

    @property
    def demo_mail_count(self) -> int:
        """How many demo mails a tenant's demo mailbox holds (the relay's mock mode)."""
        ...

    def demo_mail(self, tenant_id: str, index: int, inbound_domain: str, stamp: str) -> bytes:
        """The ``index``-th demo mail of a tenant, the same bytes every time; ``stamp`` is
        the header the MX puts the inbound address in."""
        ...

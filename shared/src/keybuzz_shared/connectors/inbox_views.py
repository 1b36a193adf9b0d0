"""A shop's inbox as the seam's ``MessageSource`` sees it: a connector that reads its
marketplace as ``InboxMessage``s (with read state and files) gives them as
``MarketplaceMessage``s here, one mapping for every connector."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    Attachment,
    InboxMessage,
    MarketplaceMessage,
    Page,
)


def marketplace_message(message: InboxMessage) -> MarketplaceMessage:
    return MarketplaceMessage(
        external_id=message.message_id,
        thread=message.thread,
        sender_type=message.sender_type,
        sender_name=message.sender_name,
        subject=message.subject,
        body=message.body,
        sent_at=message.created_at,
        attachments=tuple(
            Attachment(name=f.name, url=f.url, content_type=f.content_type) for f in message.files
        ),
    )


def marketplace_messages(page: Page[InboxMessage]) -> Page[MarketplaceMessage]:
    """The page's messages as the seam's, its cursor and what was left out unchanged."""
    return Page(
        items=tuple(marketplace_message(m) for m in page.items),
        next_cursor=page.next_cursor,
        complete_until=page.complete_until,
        unreadable=page.unreadable,
    )

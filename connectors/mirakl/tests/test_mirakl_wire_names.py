"""The connector's wire shapes are Mirakl's description: every field the connector reads
from an answer is one the description names on that answer's schema (a misspelt field
would read as its default, silently: a thread never waiting, an order without lines)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from keybuzz_connector_mirakl import orders, threads
from keybuzz_double_mirakl.contract import DESCRIBED

SCHEMAS = DESCRIBED.published()["components"]["schemas"]
# Each struct the connector decodes an answer into → the schema of that answer.
READ_AS: tuple[tuple[type[Any], str], ...] = (
    (threads.Thread, "M11_Response_200_Data"),
    (threads.Thread, "M10_Response_200"),
    (threads.Metadata, "M11_Response_200_Data_Metadata"),
    (threads.Topic, "M11_Response_200_Data_Topic"),
    (threads.Entity, "M11_Response_200_Data_Entities"),
    (threads.Party, "M11_Response_200_Data_AuthorizedParticipants"),
    (threads.Party, "M11_Response_200_Data_Messages_From"),
    (threads.Message, "M11_Response_200_Data_Messages"),
    (threads.FileRef, "M11_Response_200_Data_Messages_Attachments"),
    (orders.Order, "OR11_Response_200_Orders"),
    (orders.Channel, "OR11_Response_200_Orders_Channel"),
    (orders.Line, "OR11_Response_200_Orders_OrderLines"),
    (orders.Refund, "OR11_Response_200_Orders_OrderLines_Refunds"),
    (orders.Statistics, "A21_Response_200"),
    (orders.Figure, "A21_Response_200_OrderMessagesResponseDelay"),
)


@pytest.mark.parametrize(("struct", "schema"), READ_AS, ids=[s for _, s in READ_AS])
def test_each_field_the_connector_reads_is_named_by_mirakls_description(
    struct: type[Any], schema: str
) -> None:
    named = set(SCHEMAS[schema]["properties"])
    read = {field.encode_name for field in msgspec.structs.fields(struct)}
    assert read <= named, f"{struct.__name__} reads {sorted(read - named)}, not in {schema}"


@pytest.mark.parametrize(
    ("page", "schema"),
    [(threads.M11_PAGE, "M11_Response_200"), (orders.OR11_PAGE, "OR11_Response_200")],
    ids=["M11", "OR11"],
)
def test_a_pages_keys_are_named_by_mirakls_description(page: dict[str, str], schema: str) -> None:
    """A misspelt items key is an unreadable page, loud; a misspelt next-page token would
    read as "no more pages", every page after the first left unread."""
    named = set(SCHEMAS[schema]["properties"])
    assert set(page.values()) <= named, f"{sorted(set(page.values()) - named)} not in {schema}"

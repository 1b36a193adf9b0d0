"""A relayed mail and a shop's message reach the ticket tables by one path: the seam's
``InboxMessage`` made into its row by ``tickets/received.external_row`` (a mail with its
envelope beside it), written by ``tickets/store.py`` alone, with its ``message.received``
built by ``received.message_received`` alone. Read from the source (as
tests/test_package_direction.py does): a second row builder or a second writer fails here
before it drifts."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_poller.shops.domain import Shop, external_row
from keybuzz_poller.tickets.received import UNREADABLE_TEXT, preview
from keybuzz_poller.tickets.received import external_row as stored_row
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import mail_relay_of
from mailkit import relay_mail

SOURCE = Path(__file__).resolve().parents[2] / "src" / "keybuzz_poller"
RECEIVED = datetime(2026, 3, 2, 10, 31, tzinfo=UTC)
# The tables a message's intake writes: what only tickets/store.py may insert into.
_TICKET_INSERT = re.compile(
    r"INSERT\s+INTO\s+poller_(external_messages|tickets|ticket_messages)\b", re.I
)


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(SOURCE).as_posix(): ast.parse(path.read_text())
        for path in SOURCE.rglob("*.py")
    }


def _called(tree: ast.Module) -> set[str]:
    """The names a module calls, as written (``f(...)``, ``module.f(...)``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def _imported_from(tree: ast.Module, module: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def test_the_mail_path_and_the_api_path_build_their_rows_with_the_one_builder() -> None:
    modules = _modules()
    for path in ("tickets/from_mails.py", "shops/domain.py"):
        assert "external_row" in _imported_from(modules[path], "keybuzz_poller.tickets.received")
    assert "message" in _called(modules["tickets/from_mails.py"])  # the relay's mapping
    # A stored message's row is made there only; replies/ makes the rows of our own replies
    # and of the relay's bounces, which are no marketplace's message.
    builders = {
        path
        for path, tree in modules.items()
        if "ExternalMessageRow" in _called(tree) and not path.startswith("replies/")
    }
    assert builders == {"tickets/received.py"}


def test_only_the_tickets_store_inserts_into_the_ticket_tables() -> None:
    writers = {
        path.relative_to(SOURCE).as_posix()
        for path in SOURCE.rglob("*.py")
        if _TICKET_INSERT.search(path.read_text())
    }
    assert writers == {"tickets/store.py"}


def test_only_received_builds_message_received() -> None:
    builders = {path for path, tree in _modules().items() if "MessageReceived" in _called(tree)}
    assert builders == {"tickets/received.py"}


def test_a_mail_and_the_same_message_from_an_api_are_stored_alike() -> None:
    """What the seam's message says is stored the same, whichever way it came; what only a
    mail has (its raw bytes, its alias, no sender type: its Date is its sender's word)
    comes from its envelope."""
    mail = parse(relay_mail("amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test").as_bytes())
    message = mail_relay_of(registry.connector_for("AMAZON")).message(mail, RECEIVED)
    shop = Shop(tenant_id="t1", marketplace="AMAZON")
    by_mail = stored_row(
        message, tenant_id="t1", marketplace="AMAZON", received_at=RECEIVED, mail=mail
    )
    by_api = external_row(shop, message, [], RECEIVED, False)
    alike = ("external_id", "order_id", "buyer_name", "subject", "body", "attachments")
    assert [getattr(by_mail, f) for f in alike] == [getattr(by_api, f) for f in alike]
    assert (by_mail.raw, by_mail.buyer_email, by_mail.sender_type) == (
        mail.raw,
        mail.buyer_email,
        None,
    )
    assert by_api.sender_type == "BUYER" and by_api.buyer_email is None


def test_a_nul_or_an_unreadable_character_is_replaced_before_it_is_stored_and_flagged() -> None:
    """PostgreSQL's text holds no NUL: a shop's message holding one is stored with it
    replaced (U+FFFD), as one whose bytes the kit mended (U+FFFD already); either is
    flagged (``parse_error``, the API's ``parseError``). A healthy one is not."""
    mail = parse(relay_mail("amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test").as_bytes())
    message = mail_relay_of(registry.connector_for("AMAZON")).message(mail, RECEIVED)
    shop = Shop(tenant_id="t1", marketplace="AMAZON")

    def row(subject: str, body: str) -> tuple[str, str, str | None]:
        given = msgspec.structs.replace(message, subject=subject, body=body)
        stored = external_row(shop, given, [], RECEIVED, False)
        return stored.subject, stored.body, stored.parse_error

    assert row("Colis", "Bonjour\x00 abîmé\x00") == (
        "Colis",
        "Bonjour\ufffd abîmé\ufffd",
        UNREADABLE_TEXT,
    )
    assert row("Colis \ufffd", "Bonjour") == ("Colis \ufffd", "Bonjour", UNREADABLE_TEXT)
    assert row("Colis", "Bonjour") == ("Colis", "Bonjour", None)


def test_a_preview_is_the_buyers_words_on_one_line_whatever_their_length() -> None:
    """Blanks of every kind (``\\s``: Unicode's too) as single spaces, at most 200
    characters, the same from a head of a long text as from the whole of it."""
    blanks = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    texts = [
        "",
        f"{blanks}Bonjour,{blanks}où{blanks}",
        "mot " * 300,
        " " * 799 + "x" * 300,  # the head holds no word: the whole text is read
        "a\u00a0\n" * 150 + "fin",  # the head's last blank run cut at its edge
        "ab " * 266 + "cdefgh" * 50,  # a word cut at the head's edge
    ]
    for text in texts:
        assert preview(text) == re.sub(r"\s+", " ", text).strip()[:200]

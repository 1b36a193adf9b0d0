"""A relayed mail and a shop's message reach the ticket tables by one path: the seam's
``InboxMessage`` made into its row by ``tickets/received.external_row`` (a mail with its
envelope beside it), written by ``tickets/store.py`` alone, with its ``message.received``
built by ``received.message_received`` alone. Every statement that writes a ticket table
(``store.TICKET_TABLES``: INSERT, UPDATE, DELETE, …) is in ``tickets/store.py``, whoever
calls it (a poll, a reply's sender, a shop's purge, the topics backfill). Read from the
source (as tests/test_package_direction.py does): a second row builder or a second writer
fails here before it drifts."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_poller.tickets import ports
from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketMessageRow
from keybuzz_poller.tickets.received import UNREADABLE_TEXT, external_row, preview
from keybuzz_poller.tickets.store import TICKET_TABLES
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import mail_relay_of
from mailkit import relay_mail

SOURCE = Path(__file__).resolve().parents[2] / "src" / "keybuzz_poller"
RECEIVED = datetime(2026, 3, 2, 10, 31, tzinfo=UTC)
MIGRATIONS = SOURCE / "migrations"
# A statement that writes a table, as SQL spells it (a CTE's or a whole statement's).
_WRITE = r"(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?|COPY)"
_TICKET_WRITE = re.compile(rf"\b{_WRITE}\s+(?:ONLY\s+)?({'|'.join(TICKET_TABLES)})\b", re.I)


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
    for path in ("tickets/from_mails.py", "shops/poll.py"):
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
    # Called there by its own name, not through a wrapper (the hop shops/domain.py had).
    definers = {
        path
        for path, tree in modules.items()
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "external_row"
            for node in ast.walk(tree)
        )
    }
    assert definers == {"tickets/received.py", "replies/ports.py"}  # replies/: our own rows


def _ticket_writers() -> dict[str, set[str]]:
    """Module → the ticket tables its SQL writes."""
    writers: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        for match in _TICKET_WRITE.finditer(path.read_text()):
            writers.setdefault(path.relative_to(SOURCE).as_posix(), set()).add(match[1].lower())
    return writers


def test_the_ticket_tables_are_the_migrations_tables_of_a_ticket() -> None:
    """Each table named is one the migrations create (a renamed table would leave its
    writes unwatched), and each table holding a ticket's id or a stored message's is
    named, but for those with their own writer: a reply's queue row and its alerts."""
    sql = "\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))
    created = set(re.findall(r"CREATE TABLE (poller_\w+)", sql))
    assert set(TICKET_TABLES) <= created
    own_writer = {"poller_replies", "poller_response_alerts"}
    for table in created - own_writer:
        body = sql.split(f"CREATE TABLE {table} (", 1)[1].split(");", 1)[0]
        if re.search(r"REFERENCES poller_(tickets|external_messages)\b", body):
            assert table in TICKET_TABLES, table


def test_only_the_tickets_store_writes_the_ticket_tables() -> None:
    writers = _ticket_writers()
    assert set(writers) == {"tickets/store.py"}, writers
    assert writers["tickets/store.py"] == set(TICKET_TABLES)


def test_a_write_of_a_ticket_table_however_spelled_is_seen() -> None:
    """The scan's own check: the statements' spellings the poller uses, and others."""
    seen = [
        "UPDATE poller_tickets t SET claim = true",
        "update\n   poller_ticket_messages set body = ''",
        "WITH gone AS (DELETE FROM poller_incidents WHERE true)",
        "INSERT INTO poller_message_attachments AS a (x) VALUES (1)",
        "TRUNCATE TABLE poller_external_messages",
    ]
    unseen = ["SELECT id FROM poller_tickets", "UPDATE poller_tickets_archive SET x = 1"]
    assert all(_TICKET_WRITE.search(s) for s in seen)
    assert not any(_TICKET_WRITE.search(s) for s in unseen)


def test_only_received_builds_message_received() -> None:
    builders = {path for path, tree in _modules().items() if "MessageReceived" in _called(tree)}
    assert builders == {"tickets/received.py"}


def test_a_mail_and_the_same_message_from_an_api_are_stored_alike() -> None:
    """What the seam's message says is stored the same, whichever way it came; what only a
    mail has (its raw bytes, its alias, no sender type: its Date is its sender's word)
    comes from its envelope."""
    mail = parse(relay_mail("amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test").as_bytes())
    message = mail_relay_of(registry.connector_for("AMAZON")).message(mail, RECEIVED)
    by_mail = external_row(
        message, tenant_id="t1", marketplace="AMAZON", received_at=RECEIVED, mail=mail
    )
    by_api = external_row(message, tenant_id="t1", marketplace="AMAZON", received_at=RECEIVED)
    alike = ("external_id", "order_id", "buyer_name", "subject", "body", "attachments")
    assert [getattr(by_mail, f) for f in alike] == [getattr(by_api, f) for f in alike]
    assert (by_mail.raw, by_mail.buyer_email, by_mail.sender_type) == (
        mail.raw,
        mail.buyer_email,
        None,
    )
    assert by_api.sender_type == "BUYER" and by_api.buyer_email is None


def test_a_message_is_stored_in_one_row_its_ticket_message_a_link() -> None:
    """Four forms from bytes to stored ticket (docs/ARCHITECTURE.md, "A message's way to a
    ticket"): the stored message (``ExternalMessageRow``) is the last that holds its words
    and time. Of the rows the store writes it alone holds a body; its ticket message is a
    link (ids, direction, whether it awaits a reply) copying none of its fields. A row that
    copied them (the body and time ``TicketMessageRow`` held until migration 021) would be
    a fifth form."""
    rows = [
        row
        for name, row in vars(ports).items()
        if name.endswith("Row") and isinstance(row, type) and issubclass(row, msgspec.Struct)
    ]
    assert [row for row in rows if "body" in row.__struct_fields__] == [ExternalMessageRow]
    link = set(TicketMessageRow.__struct_fields__)
    assert link & set(ExternalMessageRow.__struct_fields__) == {"id", "tenant_id"}
    assert link - {"id", "tenant_id"} == {
        "ticket_id",
        "external_message_id",
        "direction",
        "awaits_reply",
    }


def test_a_nul_or_an_unreadable_character_is_replaced_before_it_is_stored_and_flagged() -> None:
    """PostgreSQL's text holds no NUL: a shop's message holding one is stored with it
    replaced (U+FFFD), as one whose bytes the kit mended (U+FFFD already); either is
    flagged (``parse_error``, the API's ``parseError``). A healthy one is not."""
    mail = parse(relay_mail("amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test").as_bytes())
    message = mail_relay_of(registry.connector_for("AMAZON")).message(mail, RECEIVED)

    def row(subject: str, body: str) -> tuple[str, str, str | None]:
        given = msgspec.structs.replace(message, subject=subject, body=body)
        stored = external_row(given, tenant_id="t1", marketplace="AMAZON", received_at=RECEIVED)
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

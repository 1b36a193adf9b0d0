"""What the parser made of every test mail, recorded once: a new parser must make the same.

``mails/relay`` holds the relay mails the repo builds (write_relay_fixtures.py),
``mails/corpus`` odd real-world mails from mail libraries' test suites (SOURCES.md).
``mails/golden.json`` is each one's :class:`RelayMail`, as the stdlib parser
(``policy.default``) gave it before the parser changed: the raw mail and attachment
contents as their SHA-256 (they are the files themselves, or cut from them).

Record it only when a mail is added (never to hide a difference: a difference is a
bug fixed, with its own test, or a choice listed in test_parse_same_results.py)::

    .venv/bin/python services/poller/tests/mail_golden.py [NEW_FILE.eml ...]
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import msgspec
from keybuzz_poller.reading.relay_mail import ParseBudget, RelayMail, parse

MAILS = Path(__file__).parent / "mails"
GOLDEN = MAILS / "golden.json"


def mail_files() -> list[Path]:
    return sorted(MAILS.glob("relay/*.eml")) + sorted(MAILS.glob("corpus/*.eml"))


def mail_name(path: Path) -> str:
    return path.relative_to(MAILS).as_posix()


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def comparable(mail: RelayMail) -> dict[str, Any]:
    """Every field as JSON builtins, bytes as their digest, and the id the store uses."""
    fields: dict[str, Any] = msgspec.to_builtins(mail)
    fields["raw"] = _sha256(mail.raw)
    for attachment, parsed in zip(fields["attachments"], mail.attachments, strict=True):
        attachment["content"] = _sha256(parsed.content)
    fields["external_id"] = mail.external_id
    return fields


def parsed(path: Path) -> dict[str, Any]:
    """As the parse workers do it: with the default budget."""
    return comparable(parse(path.read_bytes(), ParseBudget()))


def load_golden() -> dict[str, dict[str, Any]]:
    golden: dict[str, dict[str, Any]] = msgspec.json.decode(GOLDEN.read_bytes())
    return golden


def record(only: list[str]) -> None:
    """Adds the named mails (all when none is named, and no golden file exists yet)."""
    golden = load_golden() if GOLDEN.exists() else {}
    for path in mail_files():
        name = mail_name(path)
        if name not in golden and (not only or path.name in only or name in only):
            golden[name] = parsed(path)
    GOLDEN.write_bytes(msgspec.json.format(msgspec.json.encode(golden), indent=1) + b"\n")


if __name__ == "__main__":
    record(sys.argv[1:])

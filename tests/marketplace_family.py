"""A connector family whose marketplaces come from data, for tests: each entry of the JSON
file named by ``$KEYBUZZ_TEST_FAMILY`` (``[{"code": "ALPHA", "name": "Alpha Market"}]``) is
a marketplace, read again each time the registry calls ``connectors`` — what a catalogue
family (an operator's list) does. Each member speaks the Fnac seller API (the sandbox's
Fnac double: its shops, messages, replies and orders) under its own value, credentials
path and settings (``FAMILY_API_URL``), so that a test connects, polls, replies through and
backfills a marketplace added while the services run, and sees it removed."""

from __future__ import annotations

import json
import os
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from keybuzz_connector_fnac.connector import fnac_connector
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.connector_settings import ConnectorSettings, ShopApiSettings
from keybuzz_shared.connectors.seam import Connector
from keybuzz_shared.file_links import origin_of, shown

FILE_ENV = "KEYBUZZ_TEST_FAMILY"
# Named after every installed entry point: the family's members come after theirs.
ENTRY_POINT = EntryPoint(
    name="zz-test-family", value=f"{__name__}:connectors", group=registry.GROUP
)


def entries() -> list[dict[str, Any]]:
    """The family's file as it is now (none when the variable is unset)."""
    path = os.environ.get(FILE_ENV)
    if not path:
        return []
    read = json.loads(Path(path).read_text())
    if not isinstance(read, list):
        raise ValueError(f"{path}: not a list of marketplaces")
    return read


class FamilySettings(ConnectorSettings, kw_only=True, frozen=True):
    """One settings type for every member, so a service started before a member was added
    holds it already."""

    family_api_url: str = "http://127.0.0.1:9/fnac/api.php/"

    def shop_api(self, marketplace: str) -> ShopApiSettings | None:
        if marketplace not in {e["code"] for e in entries()}:
            return None
        return ShopApiSettings(
            api_url=self.family_api_url,
            timeout_seconds=5.0,
            call_deadline_seconds=10.0,
            poll_interval_seconds=60,
            mark_as_read=False,
            first_poll_days=30,
            max_attachment_bytes=2**20,
            attachment_origins=(shown(origin_of(self.family_api_url)),),
        )


# One object per unchanged entry: the registry's users keep what they made per connector.
_members: dict[tuple[str, str], Connector] = {}
readings = 0  # how many times the registry called ``connectors``


def connectors() -> list[Connector]:
    global readings
    readings += 1
    found: list[Connector] = []
    for entry in entries():
        key = (str(entry["code"]), str(entry["name"]))
        if key not in _members:
            _members[key] = fnac_connector(*key, settings=FamilySettings)
        found.append(_members[key])
    return found


class Family:
    """The family's file, written by a test."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def serve(self, *codes: str) -> None:
        listed = [{"code": c, "name": f"{c.title()} Market"} for c in codes]
        self.path.write_text(json.dumps(listed))

    def garble(self) -> None:
        self.path.write_text("{not json")

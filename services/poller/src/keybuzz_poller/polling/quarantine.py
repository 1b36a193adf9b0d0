"""Mail of tenants nobody told us about: found in the mailbox, recorded, never deleted.

Once an interval the scheduler counts the mail in folders of tenants the projection has
never heard of (a tenant created before its ``tenant.synced`` reached us, or a stray);
operators list them with ``keybuzz.poller.quarantine``.
"""

from __future__ import annotations

import logging

from keybuzz_poller.inbound.addresses import FOLDER_PREFIX
from keybuzz_poller.polling.domain import QuarantinedFolder
from keybuzz_poller.polling.ports import QuarantineStore
from keybuzz_poller.reading.ports import MailSource

log = logging.getLogger(__name__)


async def scan_quarantine(mailbox: MailSource, quarantine: QuarantineStore) -> dict[str, int]:
    """Folders of unknown tenants with their mail counts; recorded, never deleted."""
    folders = await mailbox.tenant_folders()
    by_tenant = {name.removeprefix(FOLDER_PREFIX): name for name in folders}
    unknown = await quarantine.unknown_tenants(list(by_tenant))
    found = {by_tenant[t]: folders[by_tenant[t]] for t in sorted(unknown)}
    await quarantine.record_quarantine(found)
    if found:
        log.warning(
            "mail for unknown tenants kept in quarantine",
            extra={"folders": len(found), "messages": sum(found.values())},
        )
    return found


async def quarantined_folders(quarantine: QuarantineStore) -> list[QuarantinedFolder]:
    """Folders holding mail of no known tenant (kept, never deleted), by name."""
    return await quarantine.quarantined()

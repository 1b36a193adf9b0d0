"""What a connector's client takes beside its own arguments and hands to the kit's
``Requester`` unread: the call options, where the shop's files may come from, the cap of
an answer (None: the spec's) and a pace around each request."""

from __future__ import annotations

from keybuzz_shared.connectors.kit.requester import Pace
from keybuzz_shared.file_links import FileLinks
from keybuzz_shared.json_calls import CallOptions


class RequesterOptions(CallOptions, total=False):
    files: FileLinks
    max_response_bytes: int | None
    pace: Pace | None

"""A shop's session opened from the connector's declaration: the function that opens the
shop's client (``ClientOf``, the credential check's too) and the one that puts the shop's
parts on it (``Parts``). The kit opens the client with a session's call options
(``shop_options``) and hands it, with the settings view, to the parts: a connector writes
no ``open_session`` of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import httpx

from keybuzz_shared.connectors.kit.connector import OpenSession
from keybuzz_shared.connectors.kit.credential_check import ClientOf, shop_options
from keybuzz_shared.connectors.seam import MarketplaceSession, ShopApiSettings
from keybuzz_shared.file_links import FileLinks

S = TypeVar("S", bound=ShopApiSettings)
C = TypeVar("C")

# The shop's parts (inbox, replies, orders) on its client, given the settings view.
Parts = Callable[[C, S], MarketplaceSession]


def opener(client: ClientOf[S, C], parts: Parts[C, S]) -> OpenSession[S]:
    """The ``OpenSession`` of a connector: its client, then its parts on it."""

    def open_session(
        credentials: Mapping[str, str], http: httpx.AsyncClient, api: S, files: FileLinks
    ) -> MarketplaceSession:
        return parts(client(credentials, http, api, files, shop_options(api)), api)

    return open_session

"""A shop's session opened from the connector's declaration: the function that opens the
shop's client (``ClientOf``, the credential check's too) and the one that puts the shop's
parts on it (``Parts``). The kit opens the client with a session's call options
(``shop_options``) and hands it, with the settings view, to the parts: a connector writes
no ``open_session`` of its own. Its client it writes on one ``Opening`` (``client_from``):
the shop's credential fields, the HTTP client, the settings view, and what its requester
takes unread (the shop's file links and the call options)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar, Unpack

import httpx

from keybuzz_shared.connectors.kit.connector import OpenSession
from keybuzz_shared.connectors.kit.credential_check import ClientOf, shop_options
from keybuzz_shared.connectors.kit.options import RequesterOptions
from keybuzz_shared.connectors.seam import MarketplaceSession, ShopApiSettings
from keybuzz_shared.file_links import FileLinks
from keybuzz_shared.json_calls import CallOptions

S = TypeVar("S", bound=ShopApiSettings)
C = TypeVar("C")

# The shop's parts (inbox, replies, orders) on its client, given the settings view.
Parts = Callable[[C, S], MarketplaceSession]


@dataclass(frozen=True)
class Opening(Generic[S]):
    """What a shop's client is opened on: ``credentials`` (the connector's credential
    fields), ``http``, ``api`` (the settings view) and ``options``, the requester's."""

    credentials: Mapping[str, str]
    http: httpx.AsyncClient
    api: S
    options: RequesterOptions


def _requester(**options: Unpack[RequesterOptions]) -> RequesterOptions:
    return options


def client_from(build: Callable[[Opening[S]], C]) -> ClientOf[S, C]:
    """The ``ClientOf`` of a connector's ``build``: the file links and call options the
    kit gives are its requester's options."""

    def client_of(
        credentials: Mapping[str, str],
        http: httpx.AsyncClient,
        api: S,
        files: FileLinks,
        options: CallOptions,
    ) -> C:
        return build(Opening(credentials, http, api, _requester(files=files, **options)))

    return client_of


def opener(client: ClientOf[S, C], parts: Parts[C, S]) -> OpenSession[S]:
    """The ``OpenSession`` of a connector: its client, then its parts on it."""

    def open_session(
        credentials: Mapping[str, str], http: httpx.AsyncClient, api: S, files: FileLinks
    ) -> MarketplaceSession:
        return parts(client(credentials, http, api, files, shop_options(api)), api)

    return open_session

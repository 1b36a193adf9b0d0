"""One shop's calls to one operator's instance of Mirakl's seller API, on the kit's
requester.

Every call carries the shop user's API key in ``Authorization`` (Mirakl's way: no scheme)
and the shop's ``shop_id`` (a key may serve several shops). A call is named by Mirakl's
operation code (M11, OR11 …): a 429's ``Retry-After`` holds back every later call of that
operation from this client until it ends — a call inside it fails at once, unsent, with
the time left — and a retry within the call waits it out when it fits the call's deadline.
An answer must be the API's own: a redirect, an HTML page or another content type where
JSON was expected is refused with what came, never followed. 401 and 403 are the key
refused. Retries, deadlines, sends never repeated (M12) and the seam's errors are the
kit's (keybuzz_shared.connectors.kit); errors and logs never hold the key.
Details: docs/MIRAKL.md."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors.kit import ApiSpec, CallErrors, HeaderAuth, Part, Refusals, Requester
from keybuzz_shared.json_calls import CallOptions

log = logging.getLogger(__name__)

# Any answer is refused past this size, unread: the largest we ask for is a page of 100
# threads with their last 100 messages each (bodies up to 50,000 characters).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Mirakl's message for a 4xx: ``{"message", "status"}``.
REFUSALS = Refusals(credentials=frozenset({401, 403}), reason_keys=("message",))


@functools.cache
def spec_for(operator: str) -> ApiSpec:
    """Mirakl's API as the requester runs it, its errors naming ``operator``."""
    return ApiSpec(
        "Mirakl",
        log,
        CallErrors.labelled(f"{operator} (Mirakl)", credentials="API key"),
        REFUSALS,
        max_response_bytes=MAX_RESPONSE_BYTES,
        misaddressed="the operator's base URL is not its API, check the catalogue",
        holds_throttled=True,
    )


class MiraklKey(msgspec.Struct, frozen=True, kw_only=True):
    """A shop user's API key and the shop it calls for."""

    api_key: str
    shop_id: str

    def __repr__(self) -> str:
        return f"MiraklKey(api_key=[REDACTED], shop_id={self.shop_id!r})"


class FilePart(msgspec.Struct, frozen=True, kw_only=True):
    """A file of a multipart request (M12's ``files``)."""

    name: str
    content_type: str
    data: bytes


class MiraklClient:
    """One shop's calls on one operator's API. ``base_url``: the operator's (calls go to
    ``<base_url>/api/...``); ``call_deadline``: seconds a call may take in all."""

    def __init__(
        self,
        key: MiraklKey,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        operator: str,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        **options: Unpack[CallOptions],
    ) -> None:
        auth = HeaderAuth(
            {"Authorization": key.api_key}, params={"shop_id": key.shop_id}, secrets=(key.api_key,)
        )
        self.calls = Requester(
            spec_for(operator),
            auth,
            http,
            base_url,
            shop={"operator": operator, "shop_id": key.shop_id},
            max_response_bytes=max_response_bytes,
            **options,
        )
        self.key = key
        self.operator = operator

    @property
    def shop_id(self) -> str:
        return self.key.shop_id

    @property
    def base_url(self) -> str:
        return self.calls.base_url

    @property
    def errors(self) -> CallErrors:
        """The seam's errors, naming this operator."""
        return self.calls.errors

    async def get_json(
        self,
        operation: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        paced: bool = False,
    ) -> Any:
        """The JSON answer of ``GET <base>/<path>`` (``path`` like "api/inbox/threads").
        ``paced``: a call the operator allows once per its frequency (a listing's first
        page): a garbled answer is not asked again within the call."""
        return await self.calls.get_json(path, params, operation=operation, paced=paced)

    async def post_multipart(
        self,
        operation: str,
        path: str,
        fields: Mapping[str, Any],
        files: Sequence[FilePart] = (),
        *,
        file_field: str = "files",
    ) -> Any:
        """``POST`` a ``multipart/form-data`` body: each of ``fields`` a JSON part (Mirakl's
        ``message_input``, ``thread_input``), each file a ``file_field`` part."""
        parts: list[Part] = [
            (name, (None, msgspec.json.encode(value), "application/json"))
            for name, value in fields.items()
        ]
        parts += [(file_field, (f.name, f.data, f.content_type)) for f in files]
        return await self.calls.post_multipart(path, parts, operation=operation)

    async def get_bytes(
        self, operation: str, path: str, max_bytes: int, params: Mapping[str, str] | None = None
    ) -> bytes:
        """The bytes of ``GET <base>/<path>`` (M13's download): FileTooLarge over
        ``max_bytes``, FileUnavailable for a 404 (no such file)."""
        return await self.calls.download(path, max_bytes, params, operation=operation)

    def held_for(self, operation: str) -> float:
        """Seconds left of the Retry-After the operator gave ``operation`` (0: none)."""
        return self.calls.held_for(operation)

"""NATS service API (``nats micro ls``/``info``) with JSON request-reply endpoints.

Operators run a service's actions with ``nats req keybuzz.<service>.<action> '<json>'``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service

log = logging.getLogger(__name__)

MicroHandler = Callable[[bytes], Awaitable[Any]]


class OperatorError(Exception):
    """An operator request that cannot be served; the message goes back to the caller."""

    def __init__(self, message: str, code: str = "400") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class MicroEndpoint:
    action: str  # subject becomes keybuzz.<service>.<action>
    handler: MicroHandler
    description: str = ""


def micro_subject(service: str, action: str) -> str:
    return f"keybuzz.{service}.{action}"


async def start_micro_service(
    nc: Client, service: str, version: str, description: str, endpoints: list[MicroEndpoint]
) -> Service:
    svc = await add_service(nc, name=f"keybuzz-{service}", version=version, description=description)
    for endpoint in endpoints:
        await svc.add_endpoint(
            name=endpoint.action,
            subject=micro_subject(service, endpoint.action),
            handler=_json_handler(endpoint.handler),
            metadata={"description": endpoint.description} if endpoint.description else None,
        )
    return svc


def _json_handler(handler: MicroHandler) -> Callable[[Request], Awaitable[None]]:
    async def respond(request: Request) -> None:
        try:
            result = await handler(request.data)
        except OperatorError as exc:
            await request.respond_error(exc.code, str(exc))
            return
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await request.respond_error("400", f"invalid request: {exc}")
            return
        except Exception:
            log.exception("operator request failed")
            await request.respond_error("500", "internal error; it has been logged")
            return
        await request.respond(msgspec.json.encode(result))

    return respond

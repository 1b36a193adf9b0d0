"""Every HTTP request body of the services refuses fields it does not know
(docs/CONTRACTS.md, "Request bodies"): a misspelt or invented field is a 400, never
silently dropped. Read from the apps as they are built, so a new endpoint is held too."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import msgspec
import pytest
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.service import ServiceDefinition, create_app
from keybuzz_shared.settings import load_settings
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from litestar.handlers import HTTPRouteHandler


def _structs(annotation: Any) -> list[type[msgspec.Struct]]:
    """The Structs a body annotation may decode to (through Optional, lists, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        nested = [
            s
            for f in msgspec.structs.fields(annotation)
            for s in _structs(f.type)
            if s is not annotation
        ]
        return [annotation, *nested]
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        return [s for arg in get_args(annotation) for s in _structs(arg)]
    return []


def _bodies(definition: ServiceDefinition) -> dict[str, list[type[msgspec.Struct]]]:
    app = create_app(definition, load_settings(definition.settings_type))
    found = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.parsed_data_field is not None:
                name = f"{sorted(handler.http_methods)} {route.path}"
                found[name] = _structs(handler.parsed_data_field.annotation)
    return found


@pytest.mark.parametrize("definition", [OAUTH, POLLER, ORDERS, TENANT_SYNC], ids=lambda d: d.name)
def test_every_request_body_refuses_unknown_fields(definition: ServiceDefinition) -> None:
    bodies = _bodies(definition)
    assert bodies, f"{definition.name} takes no body?"
    lenient = [
        f"{where}: {struct.__name__}"
        for where, structs in bodies.items()
        for struct in structs
        if not struct.__struct_config__.forbid_unknown_fields
    ]
    assert lenient == []

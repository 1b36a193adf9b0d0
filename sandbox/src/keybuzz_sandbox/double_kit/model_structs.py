"""A double's wire structs read from its marketplace's published model (Swagger 2.0
``definitions`` or OpenAPI 3 ``components.schemas``), not written out again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


def model_structs(schemas: Mapping[str, Any], *names: str) -> tuple[type[msgspec.Struct], ...]:
    """One struct per named schema: the required properties without a default, the others
    None by default and left out of the JSON while None (absent, as the marketplace's)."""
    return tuple(_struct(name, schemas[name]) for name in names)


def _struct(name: str, schema: Mapping[str, Any]) -> type[msgspec.Struct]:
    required = set(schema.get("required", ()))
    fields = [
        (prop, object) if prop in required else (prop, object, None)
        for prop in schema["properties"]
    ]
    return msgspec.defstruct(name, fields, kw_only=True, omit_defaults=True)

"""A marketplace operation's route, as every shop-API double serves one: one HTTP method
at one path, named for the operation, out of the schema (a double's OpenAPI is the
marketplace's own, not Litestar's)."""

from __future__ import annotations

import re
from typing import Any

from litestar import route
from litestar.enums import HttpMethod


def operation_route(path: str, method: str, name: str, handler: Any, **options: Any) -> Any:
    """``handler`` served at ``path`` for ``method`` (any case) alone, as ``name``;
    ``path`` as a description writes it (``{id}`` read as text, a typed ``{id:int}`` kept);
    ``options``: Litestar's own (a body's bound, a default status)."""
    verb, typed = HttpMethod(method.upper()), re.sub(r"\{(\w+)\}", r"{\1:str}", path)
    return route(typed, http_method=[verb], include_in_schema=False, name=name, **options)(handler)

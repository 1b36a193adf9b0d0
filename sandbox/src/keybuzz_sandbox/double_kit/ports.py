"""Ports a double's settings default to that follow the development stack's offset.

``KEYBUZZ_PORT_OFFSET=N`` shifts every default port of a stack by N (README, "Running two
stacks"); a double's port that points at another part of the stack (the MX its mails go
to) is declared ``StackPort`` so that its default moves with the stack, as the devstack's
own ports do, and a second stack's double never mails the first stack's MX."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

OFFSET_VARIABLE = "KEYBUZZ_PORT_OFFSET"
# The devstack's bound (keybuzz_devstack.stack): its highest default port, 8900, stays
# 4000 ports below the last one.
HIGHEST_OFFSET = 65535 - 8900 - 4000
_FOLLOWS_OFFSET = "follows_stack_offset"

# A port of the stack a double talks to: its default is shifted by KEYBUZZ_PORT_OFFSET.
StackPort = Annotated[int, msgspec.Meta(ge=1, le=65535, extra={_FOLLOWS_OFFSET: True})]


def port_offset(env: Mapping[str, str]) -> int:
    """The stack's offset in ``env`` (0 when unset); ValueError naming the variable."""
    raw = env.get(OFFSET_VARIABLE, "").strip() or "0"
    try:
        offset = int(raw)
    except ValueError:
        raise ValueError(f"{OFFSET_VARIABLE}={raw!r} is not a whole number") from None
    if not 0 <= offset <= HIGHEST_OFFSET:
        raise ValueError(f"{OFFSET_VARIABLE}={raw!r} must be between 0 and {HIGHEST_OFFSET}")
    return offset


def follows_offset(field: msgspec.inspect.Field) -> bool:
    """``field`` is a ``StackPort`` with a default port."""
    kind: Any = field.type
    return (
        isinstance(kind, msgspec.inspect.Metadata)
        and bool((kind.extra or {}).get(_FOLLOWS_OFFSET))
        and isinstance(field.default, int)
    )

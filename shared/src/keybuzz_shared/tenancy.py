"""Who is calling, for which tenant: what use cases receive, free of any transport.

The HTTP layer (``keybuzz_shared.auth``) builds these from a JWT and a header;
use cases only read them, so they can be called from HTTP, NATS or a test alike.
"""

from __future__ import annotations

import msgspec

SUPERADMIN = "superadmin"


class Principal(msgspec.Struct, frozen=True):
    user_id: str
    tenants: tuple[str, ...] = ()
    role: str | None = None

    def may_access(self, tenant_id: str) -> bool:
        return self.role == SUPERADMIN or tenant_id in self.tenants


class TenantContext(msgspec.Struct, frozen=True):
    """Who is calling, for which tenant: what tenant endpoints receive."""

    principal: Principal
    tenant_id: str

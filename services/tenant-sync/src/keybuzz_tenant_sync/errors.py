"""What tenant-sync's use cases refuse, and what each refusal means to a caller.

The use cases raise these errors (and ``domain.UnknownValue``) and know nothing
of status codes; ``ERROR_STATUSES`` is the one map, applied by ``app.py`` over
HTTP (``keybuzz_shared.http.domain_error_handlers``) and by ``micro.py`` as the
NATS micro error code (``keybuzz_shared.http.status_for``): they cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keybuzz_shared.errors import DependencyUnavailable

from keybuzz_tenant_sync.domain import UnknownValue

if TYPE_CHECKING:  # a type alias only: this module stays free of the HTTP framework
    from keybuzz_shared.http import ErrorStatuses


class TenantNotFound(LookupError):
    """The product database has no such tenant."""


class ProductDatabaseUnavailable(DependencyUnavailable):
    """An outage, not bad input: events wait and retry, HTTP answers 503."""


ERROR_STATUSES: ErrorStatuses = {
    TenantNotFound: 404,
    # The product row cannot be mapped (e.g. an unknown plan): not the caller's fault.
    UnknownValue: 422,
    ProductDatabaseUnavailable: 503,
}

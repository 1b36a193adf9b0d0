"""The marketplace's own order API, as the orders service's adapters (used by orders)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

    from keybuzz_shared.connectors.orders import (
        BuyerMessaging,
        Marketplaces,
        MessagingAction,
        OrderChange,
        OrderChangeNotifications,
        OrderListing,
        OrderReports,
    )
    from keybuzz_shared.connectors.orders import (
        OrderSource as FeedOrderSource,
    )
    from keybuzz_shared.uow import UnitOfWork
    from keybuzz_shared.vault import VaultClient


class FeedContext(Protocol):
    """What a feed takes from the service that opens it: its settings (the connector's
    among them, ``of(...)``), its Vault, and its units of work (an event emitted through
    its outbox). A service's runtime is one; the seam names no service."""

    @property
    def settings(self) -> Any: ...

    @property
    def vault(self) -> VaultClient: ...

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...


class OrderFeed(Protocol):
    """The orders service's adapters on a marketplace's own order API (the types they
    give are ``keybuzz_shared.connectors.orders``'s; orders' ports take them as they are).
    The status tables say what the marketplace's failures are in HTTP."""

    @property
    def error_statuses(self) -> Mapping[type[Exception], int]:
        """The feed's refusals of reading orders (e.g. the seller not connected)."""
        ...

    @property
    def messaging_error_statuses(self) -> Mapping[type[Exception], int]:
        """The refusals of the tenant's access when a buyer message is sent."""
        ...

    @property
    def refusal_statuses(self) -> Mapping[type[Exception], int]:
        """The marketplace's refusals of a buyer message: ``refusal`` says them."""
        ...

    @property
    def text_max_length(self) -> Mapping[MessagingAction, int]:
        """The most characters of a buyer message's ``text``; an action absent takes none."""
        ...

    @property
    def outage_or_refusal(self) -> tuple[type[Exception], ...]:
        """What the feed's calls raise when the marketplace or its sign-in fails."""
        ...

    @property
    def not_connected(self) -> tuple[type[Exception], ...]:
        """Raised when the tenant has no credentials for the marketplace."""
        ...

    def refusal(self, exc: Exception) -> tuple[str, dict[str, object]]:
        """A refusal of ``refusal_statuses`` as an error message and its details."""
        ...

    def read_change(self, body: str | bytes) -> OrderChange:
        """A queued change notification's body; ``MalformedNotification`` when unreadable."""
        ...

    def open(self, context: FeedContext, http: httpx.AsyncClient) -> OpenedFeed:
        """The adapters of the service that opens it (its Vault, settings, outbox)."""
        ...


class OpenedFeed(Protocol):
    """The adapters of one process (orders' ports, ``connectors/orders.py``); closed at
    shutdown."""

    @property
    def source(self) -> FeedOrderSource: ...

    @property
    def fallback(self) -> OrderListing:
        """When the source's listing is refused to us."""
        ...

    @property
    def reports(self) -> OrderReports: ...

    @property
    def marketplaces(self) -> Marketplaces:
        """The tenant's marketplace id."""
        ...

    @property
    def messaging(self) -> BuyerMessaging: ...

    def change_notifications(
        self, queue_arn: Callable[[], Awaitable[str]]
    ) -> OrderChangeNotifications:
        """The change notifications to the queue whose ARN ``queue_arn`` gives."""
        ...

    @property
    def components(self) -> tuple[object, ...]:
        """The clients it made, for the runtime to register by type."""
        ...

    async def aclose(self) -> None: ...

"""How the orders service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_orders.settings import OrdersSettings

DEFINITION = ServiceDefinition(
    name="orders",
    description="Backfill, refresh and serve a tenant's Amazon orders",
    settings_type=OrdersSettings,
    migrations=Path(__file__).parent / "migrations",
)

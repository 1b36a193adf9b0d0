"""How the poller service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_poller.events import register_subscribers
from keybuzz_poller.mail import start_mx, stop_mx
from keybuzz_poller.settings import PollerSettings

DEFINITION = ServiceDefinition(
    name="poller",
    description="Fetch new buyer messages for every connected tenant and store them once as tickets",
    settings_type=PollerSettings,
    migrations=Path(__file__).parent / "migrations",
    register_subscribers=register_subscribers,
    on_startup=[start_mx],
    on_shutdown=[stop_mx],
)

"""How the poller service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_poller.settings import PollerSettings

DEFINITION = ServiceDefinition(
    name="poller",
    description="Fetch new buyer messages for every connected tenant and store them once as tickets",
    settings_type=PollerSettings,
    migrations=Path(__file__).parent / "migrations",
)

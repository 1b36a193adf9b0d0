"""How the oauth service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_oauth.settings import OauthSettings

DEFINITION = ServiceDefinition(
    name="oauth",
    description="Connect a seller's Amazon account (Login with Amazon) and keep its credentials in Vault",
    settings_type=OauthSettings,
    migrations=Path(__file__).parent / "migrations",
)

"""The poller's runtime: the frame's ``Runtime`` with the poller's settings."""

from keybuzz_shared.service import Runtime

from keybuzz_poller.settings import PollerSettings

PollerRuntime = Runtime[PollerSettings]

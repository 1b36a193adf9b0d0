"""``python -m keybuzz_devstack.console``: the development console on CONSOLE_PORT (3000)."""

from __future__ import annotations

import os
import sys

import uvicorn
from keybuzz_shared.settings import SettingsError

from keybuzz_devstack.console.app import create_app
from keybuzz_devstack.console.settings import load_console_settings


def main() -> None:
    try:
        settings = load_console_settings(os.environ)
    except SettingsError as refused:
        print(f"console: {refused.message}", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()

"""`python -m keybuzz_sandbox`: serve the sandbox on SANDBOX_HOST:SANDBOX_PORT."""

from __future__ import annotations

import sys

import uvicorn

from .app import create_app
from .config import (
    IDLE_TIMEOUT_SECONDS,
    SHUTDOWN_GRACE_SECONDS,
    ConfigError,
    SandboxConfig,
)


def main() -> None:
    try:
        config = SandboxConfig.from_env()
    except ConfigError as exc:
        sys.exit(f"keybuzz-sandbox: {exc}")
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level="info",
        timeout_keep_alive=IDLE_TIMEOUT_SECONDS,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


if __name__ == "__main__":
    main()

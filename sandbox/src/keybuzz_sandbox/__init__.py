"""KeyBuzz sandbox: one app serving every installed double, each found by its entry point
(``doubles.py``) in its connector's folder (``connectors/<name>/double/``).

``create_app`` (Litestar, ~0.3 s of CPU to import) is imported on first use: the dev stack
and the doubles read the sandbox's settings and doubles without serving it."""

from typing import TYPE_CHECKING

from .config import SandboxConfig

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["SandboxConfig", "create_app"]


def __getattr__(name: str) -> object:
    if name != "create_app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .app import create_app

    return create_app

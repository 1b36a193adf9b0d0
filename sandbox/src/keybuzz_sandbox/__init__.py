"""KeyBuzz sandbox: one app serving every installed double, each found by its entry point
(``doubles.py``) in its connector's folder (``connectors/<name>/double/``)."""

from .app import create_app
from .config import SandboxConfig

__all__ = ["SandboxConfig", "create_app"]

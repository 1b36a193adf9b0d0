"""KeyBuzz sandbox: one app serving every installed double (each found by its entry point,
``doubles.py``) and Amazon's own (LWA, Seller Central consent and SP-API, faithful to
Amazon's models)."""

from .app import create_app
from .config import SandboxConfig

__all__ = ["SandboxConfig", "create_app"]

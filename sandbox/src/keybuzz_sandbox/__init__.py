"""KeyBuzz Amazon sandbox: LWA, Seller Central consent and SP-API, faithful to Amazon's models."""

from .app import create_app
from .config import SandboxConfig

__all__ = ["SandboxConfig", "create_app"]

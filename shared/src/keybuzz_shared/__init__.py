"""Code every KeyBuzz marketplace service shares: settings, events, NATS, database, Vault, HTTP, auth."""

import importlib.util
import sys
import types


class _OnFirstUse(types.ModuleType):
    """A module not executed yet: its first attribute read other than ``__spec__`` (which
    an ``import`` of a module already in ``sys.modules`` reads) executes it, in place."""

    def __getattribute__(self, name: str) -> object:
        spec = super().__getattribute__("__spec__")
        if name == "__spec__":
            return spec
        object.__setattr__(self, "__class__", types.ModuleType)
        try:
            spec.loader.exec_module(self)
        except BaseException:
            del sys.modules[spec.name]
            raise
        return getattr(self, name)


def _aiohttp_on_first_use() -> None:
    """nats-py imports aiohttp for its WebSocket transport only (``ws://`` URLs, which no
    deployment of ours uses): ~0.3 s of CPU in every process (aiohttp's connector makes an
    SSL context as it is imported). Done here, before anything imports nats-py, aiohttp is
    executed on first use instead (a ``ws://`` URL, aiobotocore's SQS client in orders),
    whole. Not installed, nats-py finds it absent as before."""
    if "aiohttp" in sys.modules or (spec := importlib.util.find_spec("aiohttp")) is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _OnFirstUse
    sys.modules["aiohttp"] = module


_aiohttp_on_first_use()


def _httpx_without_its_cli() -> None:
    """httpx imports its command-line client (``httpx._main``: click, rich, pygments) as it
    is imported, whenever those are installed (Litestar's CLI brings them): ~0.1 s of CPU
    in every process, for an ``httpx`` command none of ours runs. Marked absent before
    anything imports httpx, it is taken as not installed (``httpx.main`` then says so)."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


_httpx_without_its_cli()

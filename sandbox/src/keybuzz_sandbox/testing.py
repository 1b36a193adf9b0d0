"""Test helpers for this package's and other services' tests: a sandbox served in-process on
a free port, and the consent page's form read the way a browser reads it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import msgspec
import uvicorn

from .app import create_app
from .config import IDLE_TIMEOUT_SECONDS, SHUTDOWN_GRACE_SECONDS, SandboxConfig
from .sandbox import Sandbox


@contextlib.asynccontextmanager
async def running_sandbox(
    config: SandboxConfig | None = None,
    *,
    seen: list[Sandbox] | None = None,
    lifespan: bool = False,
) -> AsyncIterator[str]:
    """Serve a sandbox on 127.0.0.1 until the block ends; yields its base URL.

    ``seen`` receives the sandbox itself, for tests of what a double does unseen (e.g. a
    report's document written while the report is processed). ``lifespan``: with what the
    app serves beside its routes (the relays' SMTP, the reply front; give them port 0)."""
    # Bound here and handed to the server: a port picked free and bound later could be taken
    # meanwhile by any outgoing connection of the suite (the kernel's ephemeral range: a
    # fresh clone's run lost a worker to "address already in use").
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = int(listening.getsockname()[1])
    base = msgspec.structs.replace(
        config or SandboxConfig(),
        host="127.0.0.1",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(base)
    if seen is not None:
        seen.append(app.state.sandbox)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            # No logging configuration of uvicorn's own: its default one (or a log level)
            # is process-wide and silenced the access lines other tests read.
            log_config=None,
            access_log=False,
            lifespan="on" if lifespan else "off",
            timeout_keep_alive=IDLE_TIMEOUT_SECONDS,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if task.done():
                task.result()  # surface start-up errors
            await asyncio.sleep(0.01)
        yield base.public_url
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            listening.close()


class ConsentForm(HTMLParser):
    """A double's consent page's form (action and hidden fields), read the way a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    @classmethod
    def parse(cls, html: str) -> ConsentForm:
        form = cls()
        form.feed(html)
        assert form.action, "no form on the consent page"
        return form

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")

"""The ManoMano double mails the MX of its own stack: with KEYBUZZ_PORT_OFFSET=N its mails
go to 2525 + N, as the stack's MX listens there (a second stack's double never mails the
first stack's poller)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from keybuzz_sandbox.config import SandboxConfig
from keybuzz_sandbox.double_kit.ports import HIGHEST_OFFSET
from keybuzz_sandbox.testing import running_sandbox

MX_DEFAULT = 2525
TO = "manomano.t1.fr.abcdefgh23456789@inbound.keybuzz.test"


class Inbox:
    def __init__(self) -> None:
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def offset_port() -> int:
    """A free port 2525 + N for an offset N the stack takes."""
    for _ in range(200):
        port = random.randint(20_000, MX_DEFAULT + HIGHEST_OFFSET)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in the offset range")


@pytest.fixture
def stack_mx() -> Iterator[tuple[Inbox, int]]:
    """The MX of a stack shifted by some offset: listening at 2525 + offset."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=offset_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


async def test_its_mails_go_to_the_mx_of_its_stack_s_offset(stack_mx: tuple[Inbox, int]) -> None:
    inbox, mx_port = stack_mx
    offset = mx_port - MX_DEFAULT
    config = SandboxConfig.from_env({"KEYBUZZ_PORT_OFFSET": str(offset)})
    async with running_sandbox(config) as url, httpx.AsyncClient(base_url=url) as sandbox:
        sent = await sandbox.post("/_sandbox/manomano/mails", json={"kind": "buyer", "to": TO})
    assert sent.status_code == 200, sent.text
    assert inbox.recipients == [[TO]]

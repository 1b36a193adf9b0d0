"""A bare SMTP client for the MX's limit tests: line by line, from a chosen source address."""

from __future__ import annotations

import asyncio
from typing import Any

from keybuzz_devstack.testing import RunningService
from prometheus_client.parser import text_string_to_metric_families


class RawSmtp:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, poller: RunningService, source: str = "127.0.0.1") -> RawSmtp:
        return await cls.to_port(poller.runtime.settings.mx_port, source)

    @classmethod
    async def to_port(cls, port: int, source: str = "127.0.0.1") -> RawSmtp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        return cls(reader, writer)

    async def reply(self, within: float = 10.0) -> tuple[int, str]:
        """The next reply (every line of a multi-line one); (0, "") when the MX closed."""
        lines: list[str] = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), within)
            if not line:
                return 0, "\n".join(lines)
            text = line.decode().rstrip("\r\n")
            lines.append(text[4:])
            if text[3:4] != "-":
                return int(text[:3]), "\n".join(lines)

    async def command(self, line: str | bytes) -> tuple[int, str]:
        self.send((line if isinstance(line, bytes) else line.encode()) + b"\r\n")
        return await self.reply()

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def closed_by_mx(self, within: float = 10.0) -> bool:
        return await asyncio.wait_for(self.reader.read(), within) == b""

    async def greeted(self) -> RawSmtp:
        code, _ = await self.reply()
        assert code == 220
        assert (await self.command("EHLO relay.example"))[0] == 250
        return self

    def close(self) -> None:
        self.writer.transport.abort()


async def mx_metrics(poller: RunningService) -> dict[tuple[str, str], float]:
    """The poller's keybuzz_poller_mx_* samples on ``/metrics``, as {(name, limit): value}."""
    async with poller.client() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return mx_samples(response.text)


def mx_samples(exposition: str) -> dict[tuple[str, str], float]:
    """The keybuzz_poller_mx_* samples of a ``/metrics`` text, as {(name, limit): value}."""
    return {
        (sample.name, sample.labels.get("limit", "")): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name.startswith("keybuzz_poller_mx_") and sample.labels["service"] == "poller"
    }


def limit_hits(metrics: dict[tuple[str, str], float], limit: str) -> float:
    return metrics.get(("keybuzz_poller_mx_limits_hit_total", limit), 0.0)


def limit_logs(records: list[Any], limit: str) -> list[Any]:
    """The MX's "limit hit" log lines for ``limit`` (caplog records)."""
    return [
        r for r in records if r.getMessage() == "MX limit hit" and getattr(r, "limit", "") == limit
    ]

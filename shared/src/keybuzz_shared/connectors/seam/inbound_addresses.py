"""Buyers' messages reaching us by e-mail, at an address per tenant (used by tenant-sync)."""

from __future__ import annotations

from typing import Protocol


class InboundAddresses(Protocol):
    """A marketplace whose buyers' messages reach us as e-mails: each tenant gets an address
    per country, made of a random token so that knowing a tenant id does not reveal it."""

    @property
    def on_connection(self) -> bool:
        """Its addresses are made when the tenant connects the marketplace (the seller
        sets one in the marketplace's back office once connected), in the countries of the
        tenant's other addresses; otherwise when the tenant is created, in the countries it
        asks for."""
        ...

    @property
    def setup(self) -> str:
        """Where the seller gives the marketplace its address, in the seller's words (the
        catalogue shows it beside the connection)."""
        ...

    def address(self, tenant_id: str, country: str, token: str, domain: str) -> str: ...

"""A shop-API connector's settings, declared: its marketplace, the prefix of its variables
and its settings view; the kit gives the view (``shop_api``), the origins its shops' files
may come from, and the check of every address at load. Each setting ending in ``_url`` is
an address, checked under its variable's name; ``FILE_HOSTS`` names those whose origins
serve files when ``<prefix>_attachment_origins`` is empty (none unless declared), and
``VIEW`` is the seam's ``ShopApiSettings`` unless a connector's session needs more."""

from __future__ import annotations

from typing import Any, ClassVar

from keybuzz_shared.connectors.connector_settings import ConnectorSettings, file_origins
from keybuzz_shared.connectors.seam import ShopApiSettings


class ShopSettings(ConnectorSettings, kw_only=True, frozen=True):
    """``MARKETPLACE``'s settings, each ``<PREFIX>_…`` variable a field; ``VIEW``: the
    settings view its session and credential check take (``view_fields``: what the view
    has that no setting of its name gives)."""

    MARKETPLACE: ClassVar[str]
    PREFIX: ClassVar[str]
    VIEW: ClassVar[type[ShopApiSettings]] = ShopApiSettings
    FILE_HOSTS: ClassVar[tuple[str, ...]] = ()

    def view_fields(self) -> dict[str, Any]:
        return {}

    def shop_api(self, marketplace: str) -> ShopApiSettings | None:
        if marketplace != self.MARKETPLACE:
            return None
        given = {"attachment_origins": self.file_origins, **self.view_fields()}
        return self.api_view(self.VIEW, self.PREFIX, **given)

    @property
    def addresses(self) -> list[tuple[str, str]]:
        """Each address setting: its variable's name and its value."""
        urls = (f for f in type(self).__struct_fields__ if f.startswith(f"{self.PREFIX}_"))
        return [(f.upper(), getattr(self, f)) for f in urls if f.endswith("_url")]

    @property
    def file_origins(self) -> tuple[str, ...]:
        given: str = getattr(self, f"{self.PREFIX}_attachment_origins")
        return file_origins(given, (getattr(self, f) for f in self.FILE_HOSTS))

    def __post_init__(self) -> None:
        origins = f"{self.PREFIX}_attachment_origins".upper()
        self.check_addresses([*self.addresses, *((origins, o) for o in self.file_origins)])

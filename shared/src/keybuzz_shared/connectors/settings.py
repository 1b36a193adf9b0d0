"""The settings of every connector, in the one Struct each service's settings extend
(part of the registry: services read them by ``marketplace``, never by name).

msgspec Structs take one base with fields, so the connectors' settings classes are
chained (``FnacApiSettings`` extends ``AmazonSettings``, which extends CommonSettings):
a connector added is one more link."""

from __future__ import annotations

import msgspec

from keybuzz_shared.connectors.fnac.settings import FnacApiSettings
from keybuzz_shared.connectors.names import AMAZON, DARTY, FNAC
from keybuzz_shared.connectors.registry import UnknownMarketplace
from keybuzz_shared.connectors.seam import RedirectFlowSettings


class ShopApiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How a service reaches the API its shops are polled on."""

    api_url: str
    timeout_seconds: float  # each connect or read
    call_deadline_seconds: float  # a call as a whole, its retries included
    poll_interval_seconds: int
    mark_as_read: bool
    first_poll_days: int
    max_attachment_bytes: int
    attachment_origins: tuple[str, ...]  # the only origins a message's files come from


class MarketplaceSettings(FnacApiSettings, kw_only=True, frozen=True):
    def shop_api(self, marketplace: str) -> ShopApiSettings:
        """The shop API settings of ``marketplace`` (UnknownMarketplace: it has none)."""
        if marketplace not in (FNAC, DARTY):
            raise UnknownMarketplace(marketplace)
        return ShopApiSettings(
            api_url=self.fnac_api_url,
            timeout_seconds=self.fnac_timeout_seconds,
            call_deadline_seconds=self.fnac_call_deadline_seconds,
            poll_interval_seconds=self.poll_interval_of(darty=marketplace == DARTY),
            mark_as_read=self.fnac_mark_as_read,
            first_poll_days=self.fnac_first_poll_days,
            max_attachment_bytes=self.fnac_max_attachment_bytes,
            attachment_origins=self.fnac_file_origins,
        )

    def redirect_flow(self, marketplace: str) -> RedirectFlowSettings:
        """The redirect flow settings of ``marketplace`` (UnknownMarketplace: it has none)."""
        if marketplace != AMAZON:
            raise UnknownMarketplace(marketplace)
        return RedirectFlowSettings(
            default_site=self.amazon_default_marketplace,
            consent_origin=self.seller_central_url,
            draft=self.amazon_app_draft,
            frontend_url=self.frontend_url,
            app_source=self.amazon_app_source,
            token_endpoint=self.lwa_endpoint,
            token_cacert=self.lwa_cacert,
        )

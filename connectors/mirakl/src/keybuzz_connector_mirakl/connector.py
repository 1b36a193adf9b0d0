"""One Mirakl operator as a marketplace: the seam on its instance of Mirakl's seller API
(docs/MIRAKL.md). Every operator of the catalogue is one MiraklConnector."""

from __future__ import annotations

from keybuzz_shared.connectors.kit import OrderIdPattern
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    Limits,
)

from keybuzz_connector_mirakl.catalogue import Operator
from keybuzz_connector_mirakl.credentials import CREDENTIAL_FIELDS, MiraklCredentialCheck
from keybuzz_connector_mirakl.response_window import MiraklResponseFigures, MiraklResponseWindow
from keybuzz_connector_mirakl.settings import MiraklSettings
from keybuzz_connector_mirakl.shop_api import MiraklShopApi

# Mirakl's order ids: the operator's commercial id and a capital letter per shop of the
# cart, e.g. ``Order_00010-A`` [official, OR11's example] or ``BOU2345000012-A``. The
# commercial id's form is each operator's: letters, digits and underscores, with a digit
# (so that a hyphenated word of a message, "Saint-Denis", is no order id).
ORDER_IDS = OrderIdPattern(
    "[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z]",
    "a Mirakl one (the commercial id, a hyphen and a capital letter: 1234567-A)",
    joined="0-9A-Za-z_-",
)

LIMITS = Limits(
    # M12 [official]: the body 3-50,000 characters; at most 50 attachments over all the
    # threads of one order, and a message with its files within 30 MB (OR43's words).
    max_attachments=10,
    max_attachment_bytes=30 * 1024 * 1024,
    max_text_length=50_000,
    page_size=50,  # M11's default page [official]
)


class MiraklConnector(ConnectorDefaults):
    """The seam's Connector of one operator (``operator``, a catalogue entry). Its parts: a
    shop API (threads, and orders by OR11), a credential check, the operator's hours on
    Mirakl's own clock of each thread and its own figure (A21). The seller types its API
    key (no redirect flow); customers write through the API (no inbound address or mail
    relay, no order feed)."""

    credential_fields = CREDENTIAL_FIELDS
    limits = LIMITS
    # One type for every operator: a service started before an operator was added holds it.
    settings_type = MiraklSettings

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self.marketplace = operator.code
        self.display_name = operator.name
        self.shop_api = MiraklShopApi(LIMITS, operator.name)
        self.credential_check = MiraklCredentialCheck()
        self.order_ids = ORDER_IDS
        self.response_window = MiraklResponseWindow(operator)
        self.response_figures = MiraklResponseFigures()

    def credentials_path(self, tenant_id: str) -> str:
        """The shop's API key and shop id, one secret per operator."""
        return f"secret/keybuzz/tenants/{tenant_id}/mirakl_{self.operator.code.lower()}_api"

    def __repr__(self) -> str:
        return f"MiraklConnector({self.operator.code!r})"

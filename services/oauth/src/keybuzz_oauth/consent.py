"""The Seller Central consent URL (docs/ARCHITECTURE.md, "Amazon facts": website authorization workflow)."""

from __future__ import annotations

from urllib.parse import urlencode

from keybuzz_shared.connectors.amazon import AppCredentials, Marketplace

CONSENT_PATH = "/apps/authorize/consent"


def consent_url(
    app: AppCredentials,
    marketplace: Marketplace,
    *,
    state: str,
    redirect_uri: str,
    seller_central_url: str | None = None,
    draft: bool | None = None,
) -> str:
    """``https://sellercentral.amazon.<tld>/apps/authorize/consent?application_id=…``.

    ``seller_central_url`` replaces the marketplace's origin (the sandbox);
    ``draft`` overrides the app credential's flag. A draft app needs
    ``version=beta`` or Amazon shows error MD1000.
    """
    origin = (seller_central_url or marketplace.seller_central_url).rstrip("/")
    params = {"application_id": app.application_id, "state": state, "redirect_uri": redirect_uri}
    if app.draft if draft is None else draft:
        params["version"] = "beta"
    return f"{origin}{CONSENT_PATH}?{urlencode(params)}"

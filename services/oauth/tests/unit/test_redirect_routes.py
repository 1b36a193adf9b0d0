"""The routes, operation ids and cookie built from the registry are the ones clients know
(the product app, the console, Amazon's registered redirect URI)."""

from __future__ import annotations

from keybuzz_connector_amazon.connector import AmazonConnector
from keybuzz_connector_amazon.redirect import AmazonRedirectFlow
from keybuzz_oauth.app import BROWSER_COOKIE, CALLBACK_PATH, ROUTES, redirect_controller
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.connectors.seam import CallbackNames
from litestar import Litestar
from litestar.openapi.spec import Parameter


def operations() -> set[tuple[str, str]]:
    return {
        (f"{controller.path}{path}", handler.operation_id)  # type: ignore[attr-defined]
        for controller in ROUTES
        for path, handler in (
            (p, h)
            for h in vars(controller).values()
            if hasattr(h, "operation_id")
            for p in h.paths  # type: ignore[attr-defined]
        )
    }


def test_amazons_redirect_flow_keeps_its_wire_names() -> None:
    assert CALLBACK_PATH == "/api/v1/marketplaces/amazon/oauth/callback"
    assert BROWSER_COOKIE == "keybuzz_amazon_oauth"
    base = "/api/v1/marketplaces/amazon"
    assert {
        (f"{base}/oauth/start", "startAmazonConnection"),
        (f"{base}/oauth/callback", "completeAmazonConnection"),
        (f"{base}/status", "getAmazonConnection"),
        (f"{base}/connection", "disconnectAmazonConnection"),
    } <= operations()


def test_each_shop_marketplace_keeps_its_wire_names() -> None:
    for name, title in (("fnac", "Fnac"), ("darty", "Darty")):
        base = f"/api/v1/marketplaces/{name}"
        assert {
            (f"{base}/connection", f"connect{title}Shop"),
            (f"{base}/status", f"get{title}Connection"),
            (f"{base}/connection", f"disconnect{title}Connection"),
        } <= operations()


class _OtherNames(AmazonRedirectFlow):
    callback_names = CallbackNames(account_id="merchant_id", code="auth_code")


class _OtherRedirectMarketplace(AmazonConnector):
    """A redirect marketplace whose callback names its parameters its own way."""

    marketplace = "REDIRECT_KIT"
    display_name = "Redirect Kit"
    redirect_flow = _OtherNames()


def test_a_callbacks_parameters_are_named_by_its_connector() -> None:
    with registered(_OtherRedirectMarketplace()):
        app = Litestar(route_handlers=[redirect_controller("REDIRECT_KIT")])
        callback = app.openapi_schema.paths["/api/v1/marketplaces/redirect_kit/oauth/callback"]
    assert callback.get is not None
    named = {p.name for p in callback.get.parameters or () if isinstance(p, Parameter)}
    assert {"merchant_id", "auth_code", "state"} <= named
    assert not named & {"selling_partner_id", "spapi_oauth_code"}

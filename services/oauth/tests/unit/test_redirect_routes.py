"""The routes, operation ids and cookie built from the registry are the ones clients know
(the product app, the console, Amazon's registered redirect URI)."""

from __future__ import annotations

from keybuzz_oauth.app import BROWSER_COOKIE, CALLBACK_PATH, ROUTES


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

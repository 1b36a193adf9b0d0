"""Seller Central's consent page (no seller login: pick a seeded seller account)."""

from __future__ import annotations

import secrets
from html import escape
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from .double import AUTH_CODE_LIFETIME, AmazonDouble, AuthCode

CONSENT_PATH = "/apps/authorize/consent"
APP_NAME = "KeyBuzz (sandbox)"

# The page and its form: data (consent.html, consent_form.html), str.format templates.
PAGE, FORM = (
    (files(__package__) / name).read_text(encoding="utf-8")
    for name in ("consent.html", "consent_form.html")
)


class ConsentRequest(msgspec.Struct, kw_only=True, frozen=True):
    application_id: str = ""
    state: str = ""
    redirect_uri: str = ""
    version: str = ""


class ConsentError(Exception):
    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _html(title: str, body: str, status: int = 200) -> Response[str]:
    return Response(
        PAGE.format(title=escape(title), body=body), status_code=status, media_type="text/html"
    )


def _error_page(error: ConsentError) -> Response[str]:
    code = f"<p>Error code: <strong>{escape(error.code)}</strong></p>" if error.code else ""
    return _html(
        "Authorization error",
        f'<h1 class="err">We could not authorize this application</h1>'
        f"<p>{escape(error.message)}</p>{code}",
        status=400,
    )


def validate(sb: AmazonDouble, req: ConsentRequest) -> str:
    """The redirect URI to use, or ConsentError as Seller Central would show it."""
    if req.application_id != sb.settings.application_id:
        raise ConsentError(None, "The application you are trying to authorize could not be found.")
    if sb.settings.app_draft and req.version != "beta":
        raise ConsentError(
            "MD1000",
            "This application is in draft state: add version=beta to the authorization URL.",
        )
    if not req.redirect_uri:
        return sb.redirect_uris[0]  # Amazon falls back to the app's first registered URI
    if req.redirect_uri not in sb.redirect_uris:
        raise ConsentError("MD5101", "The redirect URI is not registered for this application.")
    return req.redirect_uri


def _redirect(uri: str, params: dict[str, str]) -> Response[str]:
    separator = "&" if "?" in uri else "?"
    location = f"{uri}{separator}{urlencode({k: v for k, v in params.items() if v})}"
    return Response("", status_code=302, headers={"Location": location}, media_type="text/plain")


def decide(sb: AmazonDouble, req: ConsentRequest, form: dict[str, str]) -> Response[str]:
    redirect_uri = validate(sb, req)
    if form.get("action") == "cancel":
        return _redirect(
            redirect_uri,
            {
                "state": req.state,
                "error": "access_denied",
                "error_description": "The seller did not authorize the application.",
            },
        )
    if form.get("action") != "authorize":
        raise ConsentError(None, "Choose Authorize or Cancel.")
    seller_id = form.get("selling_partner_id", "")
    if seller_id not in sb.sellers:
        raise ConsentError(None, "Choose one of your selling accounts.")
    code = "AN" + secrets.token_urlsafe(15).replace("-", "x").replace("_", "y")
    grant = AuthCode(seller_id, redirect_uri, sb.clock.deadline(AUTH_CODE_LIFETIME))
    sb.auth_codes.issue(code, grant)
    return _redirect(
        redirect_uri,
        {"state": req.state, "selling_partner_id": seller_id, "spapi_oauth_code": code},
    )


def consent_routes(sb: AmazonDouble) -> list[HTTPRouteHandler]:
    @get(CONSENT_PATH, include_in_schema=False)
    async def show(request: Request[Any, Any, Any]) -> Response[str]:
        req = msgspec.convert(dict(request.query_params), ConsentRequest)
        try:
            validate(sb, req)
        except ConsentError as exc:
            return _error_page(exc)
        options = "".join(
            f'<option value="{escape(sid)}">{escape(book.gen.spec.store_name)} — '
            f"{escape(book.gen.marketplace.name)} ({escape(sid)})</option>"
            for sid, book in sb.sellers.items()
        )
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{escape(getattr(req, name))}">'
            for name in ConsentRequest.__struct_fields__
        )
        form = FORM.format(
            app=escape(APP_NAME), action=CONSENT_PATH, options=options, hidden=hidden
        )
        return _html(f"Authorize {APP_NAME}", form)

    @post(CONSENT_PATH, include_in_schema=False, status_code=302)
    async def submit(request: Request[Any, Any, Any]) -> Response[str]:
        form = dict(
            parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        )
        try:
            return decide(sb, msgspec.convert(form, ConsentRequest), form)
        except ConsentError as exc:
            return _error_page(exc)

    return [show, submit]

"""eBay's consent as the seam's ``RedirectFlow``, its app's secret kept once in Vault
(docs/EBAY.md, "Connecting")."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx
import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.connectors.shop_sessions import KeptApp
from keybuzz_shared.tls import verifying

from keybuzz_connector_ebay.settings import SCOPES, EbayFlowSettings

log = logging.getLogger(__name__)
NAME = "eBay"
TENANT_SECRET = "ebay_api"  # a seller's consent, under its tenant
# How long a shop session's copy of the app's entry is used before Vault is read again (a
# rotated secret is taken within it; at once after eBay refused the app, ``app_refused``).
APP_MAX_AGE_SECONDS = 60.0
# eBay refusing our app's id and secret (``invalid_client`` [official], a 401 as RFC 6749
# 5.2 has it for a client sending them in its header), not the seller's consent.
APP_REFUSED = kit.Refusals.Held.said(
    401, "error", "invalid_client", APP_MAX_AGE_SECONDS, "eBay refused the app (invalid_client)"
)
# eBay's sites a seller may consent from [official: marketplace ids], by the locale of
# their consent page (a site is its locale's country, its id EBAY_ and that country but
# Belgium's): one account sells on every one of them, its tokens good on all.
LOCALES = ("fr-FR", "de-DE", "en-GB", "it-IT", "es-ES", "nl-NL", "de-AT", "fr-BE", "en-US")
SITES = {loc[3:]: ("EBAY_FRBE" if loc == "fr-BE" else f"EBAY_{loc[3:]}", loc) for loc in LOCALES}
_USER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# A seller's user tokens as a grant gives them, the app as HTTP Basic [official].
USER_TOKENS = partial(kit.ClientCredentials, basic=True, token_type="User Access Token")


def tenant_path(tenant_id: str) -> str:
    return f"secret/keybuzz/tenants/{tenant_id}/{TENANT_SECRET}"


class ConsentSite(NamedTuple):
    """The seam's ``ConsentSite``, with the language its consent page is shown in."""

    code: str
    id: str
    locale: str
    region: str = "GLOBAL"


class ConsentApp(kit.Redacted, frozen=True):
    """Our app at eBay (the seam's ``RedirectApp``); its RuName (``redirect_name``) is what
    eBay is sent as ``redirect_uri``, our callback behind it."""

    SECRETS = frozenset({"client_secret"})
    application_id: str
    client_secret: str
    redirect_name: str
    redirect_uri: str
    source: str
    draft: bool = False


class Granted(kit.Redacted, frozen=True):
    """The seam's ``AccountGrant``: the refresh token a code gave, and whose account."""

    SECRETS = frozenset({"refresh_token"})
    refresh_token: str | None
    account_id: str


# Our app's entry (another source's under it), kept once for all sellers, each consent
# naming it (docs/EBAY.md, "Connecting").
APP = KeptApp(
    NAME,
    "secret/keybuzz/ebay/app",
    ("client_id", "client_secret", "ru_name", "redirect_uri"),
    make=ConsentApp,
    entry_path=tenant_path,
    account_field="user_id",
    max_age=APP_MAX_AGE_SECONDS,
)


def ours(app: seam.RedirectApp) -> ConsentApp:
    if not isinstance(app, ConsentApp):
        raise TypeError(f"eBay's consent needs a ConsentApp, not {type(app)!r}")
    return app


def app_refused(response: httpx.Response, document: Any) -> kit.Refusals.Held | None:
    """``APP_REFUSED``: the shop is held and the app's entry read again (its secret rotated)."""
    if (held := APP_REFUSED(response, document)) is not None:
        APP.forget(held.reason)
    return held


class _User(msgspec.Struct, rename="camel"):
    user_id: str


# --- the code exchange: the token endpoint's failures are the seam's redirect flow's ---------


class _Refused(seam.GrantRefused):
    def __init__(self, code: str, description: str, status: int) -> None:
        super().__init__(f"eBay refused the grant (HTTP {status} {code}): {description}")
        self.code = code


class _Invalid(seam.GrantInvalid, _Refused): ...


TOKEN_SPEC = kit.ApiSpec.token_endpoint(
    NAME, log, refused=_Refused, invalid=_Invalid, unavailable=seam.TokenEndpointUnavailable
)


class CodeGrant:
    """The seam's ``CodeExchange``: the code traded for tokens, then ``getUser`` asked whose."""

    def __init__(self, settings: seam.RedirectFlowSettings) -> None:
        if not isinstance(settings, EbayFlowSettings):
            raise TypeError(f"eBay's code exchange needs EbayFlowSettings, not {type(settings)!r}")
        self.http = httpx.AsyncClient(timeout=10.0, verify=verifying(settings.token_cacert))
        self.settings = settings

    async def exchange_code(self, app: seam.RedirectApp, code: str, redirect_uri: str) -> Granted:
        mine, endpoint = ours(app), self.settings.token_endpoint
        redirect = {"redirect_uri": mine.redirect_name}  # the RuName, as the consent's
        grant = {"grant_type": "authorization_code", "code": code, **redirect}
        tokens = USER_TOKENS(endpoint, mine.application_id, mine.client_secret, grant=grant)
        identity = f"{self.settings.identity_url}/commerce/identity/v1/"
        asked = kit.Requester(TOKEN_SPEC, tokens, self.http, identity)
        user: _User = await asked.request("GET", "user/", name="getUser", shape=_User)
        return Granted(tokens.refresh_token, user.user_id)

    async def aclose(self) -> None:
        await self.http.aclose()


class EbayRedirectFlow:
    """The seam's ``RedirectFlow`` and ``AppKeptOnce``."""

    callback_names = seam.CallbackNames(account_id=None, code="code")
    credentials = staticmethod(seam.ConsentedAccount.consented)  # the user id its seller_id
    vault = staticmethod(APP.vault)
    shop_credentials = staticmethod(APP.shop_credentials)
    code_exchange = CodeGrant

    def site(self, code: str) -> ConsentSite:
        """The site of a country code or a site id, in any case; ValueError when unknown."""
        upper = code.strip().upper()
        for short, (site_id, locale) in SITES.items():
            if upper in (short, site_id):
                return ConsentSite(short, site_id, locale)
        raise ValueError(f"eBay has no site {code!r} ({', '.join(SITES)})")

    def consent_url(
        self,
        app: seam.RedirectApp,
        site: seam.ConsentSite,
        *,
        state: str,
        redirect_uri: str,
        origin: str | None = None,
        draft: bool | None = None,
    ) -> str:
        """eBay's sign-in page, asking for a code sent back to the app's RuName [official]."""
        ask = {
            "client_id": app.application_id,
            "response_type": "code",
            "redirect_uri": ours(app).redirect_name,
            "scope": " ".join(SCOPES),
            "state": state,
            "locale": SITES.get(site.code, ("", "fr-FR"))[1],
        }
        host = (origin or "https://auth.ebay.com").rstrip("/")
        return f"{host}/oauth2/authorize?{urlencode(ask)}"

    def is_account_id(self, value: str) -> bool:
        return bool(_USER_ID.fullmatch(value))

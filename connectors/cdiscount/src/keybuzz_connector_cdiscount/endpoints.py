"""Where a Cdiscount shop's calls go, as one address.

The seam gives a shop's session and its credential check one address, its marketplace's
``ShopApiSettings.api_url``, which services pass on unread. Octopia has two endpoints, the
API and its token endpoint, and the settings a call's deadline: this package's settings
write all three into that address (the API's URL, the others in its fragment, which no
HTTP request carries) and its session and check read them back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import msgspec

from keybuzz_connector_cdiscount.client import API_URL, AUTH_URL


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    api_url: str = API_URL
    auth_url: str = AUTH_URL
    call_deadline: float | None = None  # seconds a call may take in all; None: no cut

    @property
    def address(self) -> str:
        """The API's URL, the token endpoint and the deadline in its fragment."""
        told = {"token": self.auth_url}
        if self.call_deadline is not None:
            told["deadline"] = f"{self.call_deadline:g}"
        return f"{self.api_url.split('#', 1)[0]}#{urlencode(told)}"

    @classmethod
    def of(cls, address: str) -> Endpoints:
        """What ``address`` says; an address without a fragment is the API's URL alone,
        with Octopia's token endpoint and no deadline. ValueError for a deadline that is
        not a positive number."""
        api_url, _, fragment = address.partition("#")
        told = {k: v[-1] for k, v in parse_qs(fragment).items()}
        deadline = told.get("deadline")
        try:
            seconds = float(deadline) if deadline is not None else None
        except ValueError:
            seconds = -1.0
        if seconds is not None and not seconds > 0:
            raise ValueError(f"a call's deadline must be a positive number, not {deadline!r}")
        return cls(api_url=api_url, auth_url=told.get("token", AUTH_URL), call_deadline=seconds)

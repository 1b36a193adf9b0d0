"""Sandbox-only control endpoints under /_sandbox (never Amazon paths)."""

from __future__ import annotations

import random
from typing import Any

import aiosmtplib
import msgspec
from litestar import Response, Router, delete, get, post, put
from litestar.params import FromPath, JSONBody

from .auth import RefreshClaims
from .clock import iso
from .faults import FaultConfig
from .lwa import ACCESS_TOKEN_LIFETIME
from .order_book import AdvanceSummary
from .relay import RelayRequest, RelayResult, SentMessage, compose, deliver, pick_orders
from .reports import PROCESSING_SECONDS, QUEUE_SECONDS
from .sandbox import AUTH_CODE_LIFETIME, Sandbox
from .signing import REFRESH_PREFIX
from .tokens import RDT_LIFETIME


class AdminError(msgspec.Struct):
    error: str


def _problem(status: int, message: str) -> Response[bytes]:
    return Response(
        msgspec.json.encode(AdminError(message)), status_code=status, media_type="application/json"
    )


def _json(payload: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(payload), status_code=status, media_type="application/json")


class AdvanceRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    seconds: float = 86_400.0  # Amazon seconds of lifecycle to play instantly


class RedirectUriRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    uri: str


class RevocationRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    refresh_token: str | None = None
    selling_partner_id: str | None = None


def describe(sb: Sandbox) -> dict[str, Any]:
    now = sb.clock.now()
    return {
        "timeScale": sb.config.time_scale,
        "anchor": iso(sb.clock.anchor),
        "publicUrl": sb.config.public_url,
        "clientId": sb.config.client_id,
        "applicationId": sb.config.application_id,
        "appDraft": sb.config.app_draft,
        "redirectUris": sb.redirect_uris,
        "appRoles": sorted(sb.roles.granted),
        "durations": {  # Amazon seconds; divide by timeScale for real seconds
            "accessToken": ACCESS_TOKEN_LIFETIME,
            "authorizationCode": AUTH_CODE_LIFETIME,
            "restrictedDataToken": RDT_LIFETIME,
            "reportInQueue": QUEUE_SECONDS,
            "reportInProgress": PROCESSING_SECONDS,
            "listingLag": sb.config.listing_lag_seconds,
            "reportLag": sb.config.report_lag_seconds,
        },
        "rateLimits": {
            op.key: {"rate": op.rate_limit.rate, "burst": op.rate_limit.burst}
            for op in sb.models.all_operations()
            if op.rate_limit
        },
        "sellers": [
            {
                "sellingPartnerId": sid,
                "storeName": b.gen.spec.store_name,
                "marketplaceId": b.gen.spec.marketplace_id,
                "region": b.gen.marketplace.region,
                "currency": b.gen.marketplace.currency,
                "ordersInWindow": b.gen.spec.order_count,
                "cancelledInWindow": b.gen.spec.cancelled_count,
                "windowDays": b.gen.spec.window_days,
                "ordersToDate": b.count(now),
            }
            for sid, b in sb.sellers.items()
        ],
    }


def _revoke(sb: Sandbox, req: RevocationRequest) -> Response[bytes]:
    if req.refresh_token:
        claims = sb.signer.open(REFRESH_PREFIX, req.refresh_token, RefreshClaims)
        if claims is None:
            return _problem(400, "refreshToken was not issued by this sandbox")
        sb.revoke_refresh_token(claims.jti)
        return _json({"revoked": "refreshToken", "sellingPartnerId": claims.sp})
    if req.selling_partner_id in sb.sellers:
        sb.revoke_seller(req.selling_partner_id)
        return _json({"revoked": "seller", "sellingPartnerId": req.selling_partner_id})
    return _problem(400, "give refreshToken or a known sellingPartnerId")


async def _relay(sb: Sandbox, req: RelayRequest) -> Response[bytes]:
    book = sb.sellers.get(req.selling_partner_id)
    if book is None:
        return _problem(404, f"unknown seller {req.selling_partner_id}")
    if not 1 <= req.count <= 500:
        return _problem(400, "count must be between 1 and 500")
    now = sb.clock.now()
    rng = random.Random(f"{sb.config.seed}|relay|{req.selling_partner_id}|{sb.messages_sent}")
    if req.order_ids:
        states = [book.find(o, now) for o in req.order_ids]
        if any(s is None for s in states):
            return _problem(400, "orderIds contains an order this seller does not have")
        chosen = [s for s in states if s is not None]
        chosen = [chosen[i % len(chosen)] for i in range(req.count)]
    else:
        chosen = pick_orders(book, rng, req.count, now)
    messages = [compose(book, state, rng, req.to) for state in chosen]
    try:
        await deliver(
            messages, req.smtp_host or sb.config.smtp_host, req.smtp_port or sb.config.smtp_port
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _problem(502, f"SMTP delivery failed: {exc}")
    sb.messages_sent += len(messages)
    sent = [
        SentMessage(
            order_id=s.order_id,
            message_id=str(m["Message-ID"]),
            subject=str(m["Subject"]),
            sender=str(m["From"]),
            to=req.to,
        )
        for s, m in zip(chosen, messages, strict=True)
    ]
    return _json(RelayResult(sent=sent))


def admin_router(sb: Sandbox) -> Router:
    @get("/config", sync_to_thread=False)
    def config() -> Response[bytes]:
        return _json(describe(sb))

    @get("/sellers", sync_to_thread=False)
    def sellers() -> Response[bytes]:
        return _json(describe(sb)["sellers"])

    @post("/sellers/{seller_id:str}/advance", sync_to_thread=False)
    def advance(seller_id: FromPath[str], data: JSONBody[AdvanceRequest]) -> Response[bytes]:
        book = sb.sellers.get(seller_id)
        if book is None:
            return _problem(404, f"unknown seller {seller_id}")
        req = data
        if req.seconds <= 0:
            return _problem(400, "seconds must be > 0")
        summary: AdvanceSummary = book.advance(req.seconds, sb.clock.now())
        sb.save()
        return _json(summary)

    @get("/redirect-uris", sync_to_thread=False)
    def list_uris() -> Response[bytes]:
        return _json({"redirectUris": sb.redirect_uris})

    @post("/redirect-uris", sync_to_thread=False)
    def add_uri(data: JSONBody[RedirectUriRequest]) -> Response[bytes]:
        req = data
        if not req.uri.startswith(("http://", "https://")):
            return _problem(400, "uri must be an http(s) URL")
        sb.register_redirect_uri(req.uri)
        return _json({"redirectUris": sb.redirect_uris}, 201)

    @post("/revocations", sync_to_thread=False)
    def revoke(data: JSONBody[RevocationRequest]) -> Response[bytes]:
        return _revoke(sb, data)

    @get("/faults", sync_to_thread=False)
    def faults() -> Response[bytes]:
        return _json(sb.faults.config)

    @put("/faults", sync_to_thread=False)
    def set_faults(data: JSONBody[FaultConfig]) -> Response[bytes]:
        cfg = data
        if cfg.problems():
            return _problem(400, "; ".join(cfg.problems()))
        sb.faults.config = cfg
        return _json(cfg)

    @delete("/faults", sync_to_thread=False, status_code=204)
    def clear_faults() -> None:
        sb.faults.config = FaultConfig()

    @post("/ratelimits/reset", sync_to_thread=False, status_code=204)
    def reset_buckets() -> None:
        sb.limiter.reset()

    @post("/messages")
    async def messages(data: JSONBody[RelayRequest]) -> Response[bytes]:
        return await _relay(sb, data)

    handlers = [
        config,
        sellers,
        advance,
        list_uris,
        add_uri,
        revoke,
        faults,
        set_faults,
        clear_faults,
        reset_buckets,
        messages,
    ]
    return Router("/_sandbox", route_handlers=handlers, include_in_schema=False)

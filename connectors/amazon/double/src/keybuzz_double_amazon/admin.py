"""The Amazon double's control endpoints under /_sandbox (never Amazon paths)."""

from __future__ import annotations

import random
import re
from functools import partial
from typing import Annotated, Any

import aiosmtplib
import msgspec
from keybuzz_sandbox.answers import admin_error, json_answer
from keybuzz_sandbox.clock import iso
from keybuzz_sandbox.double_kit.admin import drawn_shops_handlers, known, settings_handlers
from keybuzz_sandbox.double_kit.replies import RelayFaults, bounce_target_handlers, to_mx
from litestar import Response, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from .double import AUTH_CODE_LIFETIME, AmazonDouble
from .lwa import ACCESS_TOKEN_LIFETIME, REFRESH_PREFIX, RefreshClaims
from .models import RATE_LIMITS
from .notifications import notifications_admin_routes
from .order_book import OrderBook
from .relay import RelayRequest, SentMessage, compose, pick_orders
from .reply_relay import ReplyHandler, find_buyer
from .reports import PROCESSING_SECONDS, QUEUE_SECONDS, report_admin_routes


class RedirectUriRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    uri: Annotated[str, msgspec.Meta(pattern="^https?://")]  # off it: Litestar's 400


class SenderRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    address: str


class OptOutRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    opted_out: bool


# One address, no display name: what Seller Central's Messaging Permissions page takes.
EMAIL_ADDRESS = re.compile(r"[^@\s<>(),;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class RevocationRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    refresh_token: str | None = None
    selling_partner_id: str | None = None


def describe(sb: AmazonDouble, relay: ReplyHandler) -> dict[str, Any]:
    now = sb.clock.now()
    return {
        "timeScale": sb.config.time_scale,
        "anchor": iso(sb.clock.anchor),
        "publicUrl": sb.config.public_url,
        "clientId": sb.settings.client_id,
        "applicationId": sb.settings.application_id,
        "appDraft": sb.settings.app_draft,
        "redirectUris": sb.redirect_uris,
        "appRoles": sorted(set(sb.settings.app_roles)),
        "durations": {  # Amazon seconds; divide by timeScale for real seconds
            "accessToken": ACCESS_TOKEN_LIFETIME,
            "authorizationCode": AUTH_CODE_LIFETIME,
            "reportInQueue": QUEUE_SECONDS,
            "reportInProgress": PROCESSING_SECONDS,
            "listingLag": sb.settings.listing_lag_seconds,
            "reportLag": sb.settings.report_lag_seconds,
        },
        "rateLimits": {
            key: {"rate": limit.rate, "burst": limit.burst}
            for key, limit in RATE_LIMITS.items()
            if limit
        },
        "replyRelay": {
            "host": sb.settings.reply_smtp_host,
            "port": sb.reply_smtp_port,  # null until the relay serves (app lifespan)
            "bounceTarget": relay.bounce_target,
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
                "ordersToDate": b.count(now),
                "registeredEmail": b.gen.spec.registered_email,
            }
            for sid, b in sb.sellers.items()
        ],
    }


def seller_of(sb: AmazonDouble, seller_id: str) -> OrderBook:
    return known(sb.sellers.get(seller_id), f"seller {seller_id}")


def admin_handlers(sb: AmazonDouble, relay: ReplyHandler) -> list[Any]:
    @get("/config", sync_to_thread=False)
    def config() -> Response[bytes]:
        return json_answer(describe(sb, relay))

    def advance(book: OrderBook, seconds: float) -> dict[str, object]:
        summary = book.advance(seconds, sb.clock.now())
        sb.save()
        sb.notifications.publish_changes(sb.clock.now())  # queued before the answer
        return summary

    @get("/redirect-uris", sync_to_thread=False)
    def list_uris() -> Response[bytes]:
        return json_answer({"redirectUris": sb.redirect_uris})

    @post("/redirect-uris", sync_to_thread=False)
    def add_uri(data: JSONBody[RedirectUriRequest]) -> Response[bytes]:
        if data.uri not in sb.redirect_uris:
            sb.set_listed(sb.kept.redirect_uris, data.uri, True)
        return json_answer({"redirectUris": sb.redirect_uris}, 201)

    @post("/revocations", sync_to_thread=False)
    def revoke(data: JSONBody[RevocationRequest]) -> Response[bytes]:
        if data.refresh_token:
            claims = sb.signer.open(REFRESH_PREFIX, data.refresh_token, RefreshClaims)
            if claims is None:
                return admin_error(400, "refreshToken was not issued by this sandbox")
            sb.set_listed(sb.kept.revoked_refresh_tokens, claims.jti, True)
            return json_answer({"revoked": "refreshToken", "sellingPartnerId": claims.sp})
        if data.selling_partner_id in sb.sellers:
            sb.kept.revoked_sellers[data.selling_partner_id] = sb.clock.now()
            sb.save()
            return json_answer({"revoked": "seller", "sellingPartnerId": data.selling_partner_id})
        return admin_error(400, "give refreshToken or a known sellingPartnerId")

    @get("/messaging/sent", sync_to_thread=False)
    def templated_sent(
        order_id: Annotated[str | None, QueryParameter(name="orderId")] = None,
    ) -> Response[bytes]:
        found = [m for m in sb.templated_sent if order_id is None or m.order_id == order_id]
        return json_answer({"sent": found})

    @post("/messages")
    async def messages(data: JSONBody[RelayRequest]) -> Response[bytes]:
        book = seller_of(sb, data.selling_partner_id)
        now = sb.clock.now()
        rng = random.Random(f"{sb.config.seed}|relay|{data.selling_partner_id}|{sb.messages_sent}")
        if data.order_ids:
            states = [s for s in (book.find(o, now) for o in data.order_ids) if s is not None]
            if len(states) < len(data.order_ids):
                return admin_error(400, "orderIds contains an order this seller does not have")
            chosen = [states[i % len(states)] for i in range(data.count)]
        else:
            chosen = pick_orders(book, rng, data.count, now)
        mails = [compose(book, state, rng, data.to) for state in chosen]
        mx = (data.smtp_host or sb.settings.smtp_host, data.smtp_port or sb.settings.smtp_port)
        # From each order's buyer alias, as the header says.
        envelopes = [(s.facts.buyer_email, bytes(m)) for s, m in zip(chosen, mails, strict=True)]
        try:
            await to_mx(envelopes, data.to, mx)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return admin_error(502, f"SMTP delivery failed: {exc}")
        sb.messages_sent += len(mails)
        sent: list[SentMessage] = []
        for state, m in zip(chosen, mails, strict=True):
            message_id, subject, sender = str(m["Message-ID"]), str(m["Subject"]), str(m["From"])
            sb.relay_log.put(message_id, state.facts.buyer_email)
            sent.append(SentMessage(state.order_id, message_id, subject, sender, data.to))
        return json_answer({"sent": sent})

    return [
        config,
        *drawn_shops_handlers(
            lambda: describe(sb, relay)["sellers"], partial(seller_of, sb), advance, "/sellers"
        ),
        list_uris,
        add_uri,
        revoke,
        messages,
        templated_sent,
        *reply_admin_routes(sb, relay),
        *report_admin_routes(sb),
        *notifications_admin_routes(sb),
    ]


def _set_sender(
    sb: AmazonDouble, seller_id: str, address: str, blocked: bool, listed: bool
) -> Response[bytes]:
    seller_of(sb, seller_id)
    if not EMAIL_ADDRESS.fullmatch(address) or len(address) > 254:
        return admin_error(400, "address must be one e-mail address, like name@example.com")
    # Addresses compare case-insensitively, as Amazon's.
    sb.set_listed(sb.senders(seller_id, blocked), address.lower(), listed)
    if listed:
        return json_answer({"address": address.lower()}, 201)
    return Response(b"", status_code=204)


def sender_routes(sb: AmazonDouble, blocked: bool) -> list[Any]:
    """A seller's approved (or blocked) senders: listed, added, removed."""
    path = f"/sellers/{{seller_id:str}}/{'blocked' if blocked else 'approved'}-senders"
    key = "blockedSenders" if blocked else "approvedSenders"

    @get(path, sync_to_thread=False)
    def listed(seller_id: FromPath[str]) -> Response[bytes]:
        seller_of(sb, seller_id)
        return json_answer({key: sb.senders(seller_id, blocked)})

    @post(path, sync_to_thread=False)
    def add(seller_id: FromPath[str], data: JSONBody[SenderRequest]) -> Response[bytes]:
        return _set_sender(sb, seller_id, data.address, blocked, listed=True)

    # status_code: the Response says 204, or 4xx
    @delete(path + "/{address:str}", sync_to_thread=False, status_code=200)
    def remove(seller_id: FromPath[str], address: FromPath[str]) -> Response[bytes]:
        return _set_sender(sb, seller_id, address, blocked, listed=False)

    return [listed, add, remove]


def reply_admin_routes(sb: AmazonDouble, relay: ReplyHandler) -> list[Any]:
    """Messaging permissions, buyers' opt-out and inboxes, refused replies (reply_relay.py)."""

    @put("/buyers/{alias:str}/opt-out", sync_to_thread=False)
    def opt_out(alias: FromPath[str], data: JSONBody[OptOutRequest]) -> Response[bytes]:
        known(find_buyer(sb, alias), f"buyer {alias}")
        sb.set_listed(sb.kept.opted_out_buyers, alias.lower(), data.opted_out)
        return json_answer({"alias": alias.lower(), "optedOut": data.opted_out})

    @get("/buyers/{alias:str}/inbox", sync_to_thread=False)
    def inbox(alias: FromPath[str]) -> Response[bytes]:
        known(find_buyer(sb, alias), f"buyer {alias}")
        return json_answer({"messages": relay.passed_to(alias)})

    @get("/replies/refused", sync_to_thread=False)
    def refused() -> Response[bytes]:
        return json_answer({"refused": list(relay.refused)})

    return [
        *sender_routes(sb, blocked=False),
        *sender_routes(sb, blocked=True),
        opt_out,
        inbox,
        refused,
        *bounce_target_handlers("/replies/bounce-target", relay),
        *settings_handlers(
            "/replies/faults", RelayFaults, relay.on_demand.view, relay.on_demand.set
        ),
    ]

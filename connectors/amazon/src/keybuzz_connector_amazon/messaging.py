"""Messaging API v1 (``shared/spapi-models/messaging.json``): templated messages to a buyer.

A thin typed layer over :class:`~keybuzz_connector_amazon.spapi.SpApiClient` (tokens,
per-operation buckets, retries, typed errors). What is particular to messaging:

- a send is not retried once it may have reached Amazon, which does not de-duplicate
  messages: a 5xx, a timeout or a dropped connection after the request left raises
  :class:`~keybuzz_connector_amazon.spapi.SpApiOutcomeUnknown` (a 429 or a connection
  never made is retried as usual);
- Amazon answers a send ``201`` with an empty body (``{}`` is accepted too);
- ``403 Unauthorized "Invalid amazonOrderId and template combination."`` is
  :class:`MessagingActionNotAllowed`, not an access problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import msgspec

# The actions and the body are the seam's (every buyer messaging sends these).
from keybuzz_shared.connectors.orders import MessageBody as MessageBody
from keybuzz_shared.connectors.orders import MessagingAction as MessagingAction

from keybuzz_connector_amazon.spapi import SpApiAccessDenied, SpApiClient, SpApiError

BASE_PATH = "/messaging/v1/orders"
TEMPLATE_REFUSED = "template combination"  # in Amazon's 403 message for a disallowed action


# The model's operationId of each action (used for the rate-limit bucket and in errors).
OPERATION_IDS: dict[MessagingAction, str] = {
    MessagingAction.CONFIRM_DELIVERY_DETAILS: "createConfirmDeliveryDetails",
    MessagingAction.CONFIRM_ORDER_DETAILS: "createConfirmOrderDetails",
    MessagingAction.CONFIRM_CUSTOMIZATION_DETAILS: "confirmCustomizationDetails",
    MessagingAction.UNEXPECTED_PROBLEM: "createUnexpectedProblem",
    MessagingAction.LEGAL_DISCLOSURE: "createLegalDisclosure",
    MessagingAction.WARRANTY: "CreateWarranty",
}
# maxLength of `text` in each request schema; actions without a key take no text.
TEXT_MAX_LENGTH: dict[MessagingAction, int] = {
    MessagingAction.CONFIRM_DELIVERY_DETAILS: 2000,
    MessagingAction.CONFIRM_ORDER_DETAILS: 2000,
    MessagingAction.CONFIRM_CUSTOMIZATION_DETAILS: 800,
    MessagingAction.UNEXPECTED_PROBLEM: 2000,
}


class MessagingActionNotAllowed(SpApiError):
    """Amazon does not allow this action for the order (in its current state)."""


class _Link(msgspec.Struct):
    href: str
    name: str | None = None


class _ActionLinks(msgspec.Struct):
    actions: list[_Link]


class _ActionsResponse(msgspec.Struct):
    links: _ActionLinks = msgspec.field(name="_links")


class _Buyer(msgspec.Struct):
    locale: str | None = None


class _AttributesResponse(msgspec.Struct):
    buyer: _Buyer | None = None


@dataclass(frozen=True)
class MessagingClient:
    spapi: SpApiClient

    async def actions_for_order(
        self, tenant_id: str, order_id: str, marketplace_id: str
    ) -> list[str]:
        """The names of the actions Amazon allows now for this order (any name, as sent)."""
        body, _ = await self.spapi.request(
            tenant_id,
            "getMessagingActionsForOrder",
            f"{BASE_PATH}/{quote(order_id, safe='')}",
            _ActionsResponse,
            params={"marketplaceIds": marketplace_id},
        )
        links: list[_Link] = body.links.actions
        return [link.name or link.href.rsplit("?", 1)[0].rsplit("/", 1)[-1] for link in links]

    async def buyer_locale(self, tenant_id: str, order_id: str, marketplace_id: str) -> str | None:
        """The buyer's language (``fr-FR``): Amazon wants messages written in it."""
        body, _ = await self.spapi.request(
            tenant_id,
            "GetAttributes",
            f"{BASE_PATH}/{quote(order_id, safe='')}/attributes",
            _AttributesResponse,
            params={"marketplaceIds": marketplace_id},
        )
        buyer: _Buyer | None = body.buyer
        return buyer.locale if buyer else None

    async def send(
        self,
        tenant_id: str,
        order_id: str,
        marketplace_id: str,
        action: MessagingAction,
        body: MessageBody,
    ) -> None:
        """Send one templated message; returns once Amazon answered 201."""
        operation = OPERATION_IDS[action]
        try:
            await self.spapi.request(
                tenant_id,
                operation,
                f"{BASE_PATH}/{quote(order_id, safe='')}/messages/{action.value}",
                None,  # 201 with an empty body
                method="POST",
                params={"marketplaceIds": marketplace_id},
                json_body=msgspec.to_builtins(body),
                idempotent=False,
            )
        except SpApiAccessDenied as exc:
            if TEMPLATE_REFUSED in exc.message:
                raise MessagingActionNotAllowed(
                    exc.operation, exc.status, exc.code, exc.message
                ) from None
            raise

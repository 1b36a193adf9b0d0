"""Tokens API 2021-03-01: createRestrictedDataToken (RDT)."""

from __future__ import annotations

import re

import msgspec

from .auth import RdtClaims, RdtResource
from .errors import invalid_input, unauthorized
from .roles import Roles
from .signing import RDT_PREFIX
from .spapi import CallContext, Reply

RDT_LIFETIME = 3600.0  # Amazon seconds
DATA_ELEMENTS = frozenset({"buyerInfo", "shippingAddress", "buyerTaxInformation"})
# Restricted operations the sandbox serves: (path pattern, needs dataElements,
# the element the operation itself returns). Orders 2026-01-01 is not restricted:
# it needs no RDT, so Amazon issues none for its paths.
RESTRICTED: tuple[tuple[str, bool, str | None], ...] = (
    ("/orders/v0/orders", True, None),
    ("/orders/v0/orders/{orderId}", True, None),
    ("/orders/v0/orders/{orderId}/orderItems", True, None),
    ("/orders/v0/orders/{orderId}/buyerInfo", False, "buyerInfo"),
    ("/orders/v0/orders/{orderId}/address", False, "shippingAddress"),
    ("/orders/v0/orders/{orderId}/orderItems/buyerInfo", False, "buyerInfo"),
)
NO_ACCESS = "Application does not have access to one or more requested data elements"


class RdtRequest(msgspec.Struct, kw_only=True):
    restrictedResources: list[RdtResource]  # noqa: N815 - Amazon's field names
    targetApplication: str | None = None  # noqa: N815


def _restricted_pattern(path: str) -> tuple[str, bool, str | None] | None:
    for pattern, needs_elements, element in RESTRICTED:
        # A resource names one order, or any order with the "{orderId}" placeholder.
        regex = re.escape(pattern).replace(
            re.escape("{orderId}"), r"(\{orderId\}|\d{3}-\d{7}-\d{7})"
        )
        if re.fullmatch(regex, path):
            return pattern, needs_elements, element
    return None


def _check(resource: RdtResource, roles: Roles) -> None:
    match = _restricted_pattern(resource.path) if resource.method == "GET" else None
    if match is None:
        raise invalid_input(f"Invalid restricted resource: {resource.method} {resource.path}.")
    _, needs_elements, implied = match
    if needs_elements and not resource.dataElements:
        raise invalid_input(f"dataElements is required for {resource.path}.")
    unknown = set(resource.dataElements) - DATA_ELEMENTS
    if unknown:
        raise invalid_input(f"Invalid dataElements: {', '.join(sorted(unknown))}.")
    # Amazon refuses the whole request when a role is missing for any element.
    wanted = [*resource.dataElements, *([implied] if implied else [])]
    if not all(roles.allows_element(e) for e in wanted):
        raise invalid_input(NO_ACCESS)


async def create_restricted_data_token(ctx: CallContext) -> Reply:
    principal = ctx.principal
    # Only a seller's LWA access token can be exchanged (not grantless, not another RDT).
    if principal.seller_id is None or principal.rdt is not None:
        raise unauthorized()
    request = msgspec.convert(ctx.body, RdtRequest)
    if not 1 <= len(request.restrictedResources) <= 50:
        raise invalid_input("Between 1 and 50 restrictedResources are required.")
    for resource in request.restrictedResources:
        _check(resource, ctx.sandbox.roles)
    lifetime = ctx.sandbox.clock.real_duration(RDT_LIFETIME)
    claims = RdtClaims(
        cid=principal.client_id,
        sp=principal.seller_id,
        exp=ctx.now + lifetime,
        res=request.restrictedResources,
    )
    token = ctx.sandbox.signer.seal(RDT_PREFIX, claims)
    return Reply({"restrictedDataToken": token, "expiresIn": max(1, round(lifetime))})


IMPLEMENTATIONS = {"tokens.createRestrictedDataToken": create_restricted_data_token}

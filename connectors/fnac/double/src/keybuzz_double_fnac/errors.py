"""The ERR_ codes the double answers with: ERR_105 is Fnac's, the others the double's own
(docs/SANDBOX.md, "Errors")."""

AUTH_REFUSED = "ERR_001"  # auth: partner_id, shop_id and key do not match a shop
TOKEN_INVALID = "ERR_002"  # token missing, unknown, for another shop or expired: auth again
INVALID_REQUEST = "ERR_003"  # not XML, a DOCTYPE, off the service's schema
TOO_MANY_REQUESTS = "ERR_004"  # with HTTP 429 and Retry-After
TOO_MANY_ELEMENTS = "ERR_105"  # Fnac's: limit of requested elements reached
MESSAGE_UNKNOWN = "ERR_201"  # messages_update: no such message in this shop
CALLCENTER_NEEDS_INCIDENT = "ERR_202"  # message_to CALLCENTER without an open incident
DESCRIPTION_INVALID = "ERR_203"  # a reply without text, or longer than allowed
ACTION_UNAVAILABLE = "ERR_205"  # an action the double does not serve (only reply, mark_as_read)

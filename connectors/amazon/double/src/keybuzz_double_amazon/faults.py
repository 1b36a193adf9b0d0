"""Faults on the double's operations: SP-API's, and the LWA token endpoint's when named."""

# The LWA token endpoint (POST /auth/o2/token) as an operation name. Opt-in: faults
# apply to it only when `operations` names it, so "all operations" stays SP-API's.
LWA_OPERATION = "lwaToken"

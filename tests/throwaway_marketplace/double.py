"""The throwaway marketplace's double, declared on the double kit (``KeyedApi``): its API
under ``/tryout/api`` (an ``X-Api-Key`` per shop), its admin under ``/_sandbox/tryout``, its
faults the sandbox's own, its conformance driver the kit's; registered as an installed
double's entry point would be."""

from keybuzz_sandbox.double_kit.keyed_api import KeyedApi

API = KeyedApi(
    "tryout",
    "TRYOUT",
    "Tryout",
    "/tryout/api",
    ("7001", "7002", "7003"),
    order_id=lambda n: f"T{n:06d}",
)
DOUBLE = API.double(__name__, "API")

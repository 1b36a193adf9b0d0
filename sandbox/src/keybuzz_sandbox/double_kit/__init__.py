"""The double kit: what every marketplace double repeats, written once (ports that follow
the stack's offset, the shop-API contract checks, the conformance drivers' common steps);
a double declares its data, its shapes and its marketplace's rules."""

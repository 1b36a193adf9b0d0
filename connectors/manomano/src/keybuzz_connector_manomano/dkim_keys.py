"""Where the DKIM keys of the mails claiming to be ManoMano's come from: the kit's
``DkimKeys`` (DNS in production) of ``MANOMANO_DKIM_KEYS``, which the sandbox's double
gives (its own key) and ``ManoManoSettings`` hands here when it is loaded."""

from __future__ import annotations

from keybuzz_shared.connectors.kit import DeclaredRelay

DKIM_KEYS_VARIABLE = "MANOMANO_DKIM_KEYS"
KEYS = DeclaredRelay.DkimKeys(DKIM_KEYS_VARIABLE)

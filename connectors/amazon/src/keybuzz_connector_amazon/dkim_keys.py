"""Where the DKIM keys of the mails claiming to be Amazon's come from: the kit's
``DkimKeys`` (DNS in production) of ``AMAZON_DKIM_KEYS``, which the sandbox's double
gives (its own key) and ``AmazonSettings`` hands here when it is loaded."""

from __future__ import annotations

from keybuzz_shared.connectors.kit import DeclaredRelay

DKIM_KEYS = DeclaredRelay.DkimKeys("AMAZON_DKIM_KEYS")

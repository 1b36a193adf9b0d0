"""Messages polled from a marketplace's API (Fnac, Darty): the shop's messages and incidents."""

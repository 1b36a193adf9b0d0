"""Messages polled from a marketplace's API: the shop's messages and incidents."""

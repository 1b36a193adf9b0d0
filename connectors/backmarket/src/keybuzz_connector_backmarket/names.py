"""The marketplace value of Back Market's shops, tickets and orders."""

BACKMARKET = "BACKMARKET"

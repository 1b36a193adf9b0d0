"""The marketplace value of Cdiscount's shops, tickets and orders."""

CDISCOUNT = "CDISCOUNT"

"""Tickets: relay mails stored once as tickets, and the tenant's reads of them."""

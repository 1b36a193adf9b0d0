"""The shops polled over a marketplace's API: their messages and incidents read and stored
as tickets (``domain``, ``ports``, ``poll``, ``api_source``, ``store``), their connection
(``connections``, ``connection_ports``) and their replies' API channel (``replies``)."""

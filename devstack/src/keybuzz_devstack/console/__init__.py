"""The development console: a small web page for people (development and demos).

It stands in for the product app on a developer's machine: lists the product's
tenants, mints the development JWT the product app would issue, and proxies
``/api/<service>/…`` to the four services, so the browser talks to one origin
and never holds a token. It is where the oauth callback sends the seller back
to, its marketplace's channel page (``FRONTEND_URL`` in the dev stack is its
``/settings/channels``). Refused when ``KEYBUZZ_ENV`` is ``staging`` or
``production``: it mints tokens for any tenant. See README.md, "Console".
"""

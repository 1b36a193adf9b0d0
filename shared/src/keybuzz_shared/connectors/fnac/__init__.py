"""Fnac and Darty: one seller API (XML over HTTPS), one connector (docs/FNAC.md)."""

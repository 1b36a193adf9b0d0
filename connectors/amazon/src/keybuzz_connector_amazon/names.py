"""Amazon's ``marketplace`` value (events, tables, routes)."""

AMAZON = "AMAZON"

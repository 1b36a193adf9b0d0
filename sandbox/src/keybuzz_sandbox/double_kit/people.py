"""The French buyers the doubles' seeded data names and ships to: one list of names, streets
and towns for every double, drawn by its seeded generator or taken in turn."""

from __future__ import annotations

FIRST_NAMES = ("Camille", "Hugo", "Léa", "Louis", "Chloé", "Jules", "Manon", "Théo", "Inès")
LAST_NAMES = ("Petit", "Martin", "Bernard", "Moreau", "Dubois", "Roux", "Laurent", "Girard")
STREETS = ("rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Pasteur")
# (town, postal code)
TOWNS = (
    ("Paris", "75011"),
    ("Lyon", "69003"),
    ("Marseille", "13006"),
    ("Lille", "59000"),
    ("Nantes", "44000"),
    ("Sèvres", "92310"),
)


def nth_buyer(index: int) -> tuple[str, str]:
    """Buyer ``index``'s (first, last) name, the lists taken in turn."""
    return FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]

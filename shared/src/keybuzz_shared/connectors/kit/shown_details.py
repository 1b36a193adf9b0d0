"""What a ticket shows beside a thread (the seam's ``ThreadDetail``s), from the
marketplace's codes: a code shown by the words the marketplace or the connector gives it
(``labelled``), the code itself where none is known, so a code added later is shown, never
lost; a detail with nothing to show left out (``shown``)."""

from __future__ import annotations

from collections.abc import Mapping

from keybuzz_shared.connectors.seam import ThreadDetail


def labelled(code: str | None, labels: Mapping[str, str]) -> str | None:
    """``code`` as its label in ``labels`` says it, else as it is; None for no code."""
    return (labels.get(code) or code) if code else None


def shown(*details: tuple[str, str, str | None]) -> tuple[ThreadDetail, ...]:
    """Each (name, label, value) with a value, as a ticket shows it, in the order given."""
    return tuple(ThreadDetail(name=name, label=label, value=v) for name, label, v in details if v)

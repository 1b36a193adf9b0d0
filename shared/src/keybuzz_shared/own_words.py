"""A message's own words: what its writer wrote this time, apart from what came with it.

A buyer's message carries more than the buyer's words: the earlier messages it quotes (``>``
lines, or everything after "On … wrote:" / "-----Original Message-----"), a signature, and
the marketplace's or mail client's boilerplate ("Sent from my iPhone", "Please do not reply
to this message"). The poller shows the quoted history apart (``split_quoted``); what a
message is about and in which language are read on the rest (``own_words``). Pure.
"""

from __future__ import annotations

import re

# The line that introduces a quoted earlier message, in the marketplaces' languages.
QUOTE_INTRO = re.compile(
    r"^\s*(On\b.*\bwrote|Le\b.*\ba écrit|Am\b.*\bschrieb|El\b.*\bescribió|Il\b.*\bha scritto"
    r"|Op\b.*\bschreef\b.*|Em\b.*\bescreveu|.*\bnapisał\(?a?\)?)\s*:?\s*$",
    re.IGNORECASE,
)
# A mail client's separator above a forwarded or replied-to message: everything from it on
# is history, whether its lines are quoted or not.
HISTORY_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|message d'origine|message original|ursprüngliche nachricht"
    r"|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original"
    r"|wiadomość oryginalna|forwarded message|message transféré|weitergeleitete nachricht)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
# An Outlook-style header block ("From: …" then "Sent: …" on one of the next two lines): a
# reply's history. Not "From:" then "To:" alone: a delivery report lists those too.
_HEADER_FROM = re.compile(r"^\s*\*?(from|de|von|da|van|od)\s*\*?\s*:\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|envoyé|gesendet|enviado|inviato|verzonden|wysłano)\s*\*?\s*:",
    re.IGNORECASE,
)
# Where a signature or a mail client's tag begins: nothing after it is the message.
_SIGNATURE_START = re.compile(
    r"^\s*(--\s*|_{3,}|={3,}|-{5,}"
    r"|(sent|envoyé|envoye|von|gesendet|enviado|inviato|verzonden|verstuurd|wysłane|wyslane)"
    r"\b.{0,30}\b(iphone|ipad|android|samsung|galaxy|mobile|smartphone|outlook|gmail|yahoo"
    r"|handy|móvil|movil|cellulare|telemóvel|telefoon|telefonu|appareil))\s*$",
    re.IGNORECASE,
)
# A closing formula on a line of its own (a name may follow it on the same line): the
# words above it are the message, what follows is the signature.
_CLOSING = re.compile(
    r"^\s*(cordialement|bien cordialement|bien à vous|salutations|sincères salutations"
    r"|best regards|kind regards|regards|best wishes|many thanks|yours sincerely|sincerely"
    r"|mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|mfg|lg"
    r"|saludos|un saludo|saludos cordiales|atentamente|cordiali saluti|distinti saluti|saluti"
    r"|met vriendelijke groet(en)?|vriendelijke groet(en)?|groetjes|atenciosamente"
    r"|cumprimentos|melhores cumprimentos|com os melhores cumprimentos|pozdrawiam"
    r"|z poważaniem|z wyrazami szacunku)\b[ ,.!\w-]{0,40}$",
    re.IGNORECASE,
)
# A marketplace's or mail service's boilerplate line, in the marketplaces' languages: it
# tells how the message travelled, not what the buyer wants.
_BOILERPLATE = re.compile(
    r"(ne (pas|jamais) répondre|ne répondez pas|do not reply|don't reply|please do not respond"
    r"|nicht (auf diese|direkt) .{0,20}antworten|antworten sie nicht|no responda|no respondas"
    r"|non rispondere|niet (op dit bericht )?(beantwoorden|reageren)|não responda|nie odpowiadaj"
    r"|(message|e-mail|email|mail|nachricht|mensaje|messaggio|bericht|mensagem|wiadomość)"
    r"\s.{0,40}\b(envoyé|sent|gesendet|versandt|enviado|inviato|verzonden|verstuurd|wysłan)"
    r"\w*\s.{0,30}\b(via|through|from|par|depuis|über|desde|tramite|da|via|vanuit|przez|pelo)\b"
    r"|this message was sent|ce message (vous )?a été envoyé|cet e-?mail a été envoyé"
    r"|unsubscribe|se désabonner|abmelden|darse de baja|cancellati|afmelden"
    r"|\bconfidential\b|\bconfidentiel\b|\bvertraulich\b"
    r"|^\s*https?://\S+\s*$)",
    re.IGNORECASE,
)
# A boilerplate line holds one of these: the few lines that do are read by ``_BOILERPLATE``
# (a line without any costs one scan of its lower case, not the expression's ~30 µs).
_BOILERPLATE_HINTS = re.compile(
    "pond|reply|antwort|rispond|beantwoord|reageer|odpowiad|envoy|sent|gesendet|versandt"
    "|enviad|inviat|verzonden|verstuurd|wysłan|wyslan|subscri|désabonn|abmeld|baja"
    "|cancellati|afmeld|confiden|vertraulich|http"
)
_BLANK_LINES = re.compile(r"\n{3,}")
MAX_CHARS = 20_000  # read no further: a buyer's words are far shorter, a hostile text is cut


def split_quoted(text: str) -> tuple[str, str]:
    """(the writer's words, the quoted history): ``>`` lines, and everything from a line
    that introduces an earlier message ("On … wrote:", "-----Original Message-----", an
    Outlook header block) on."""
    own: list[str] = []
    quoted: list[str] = []
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _starts_history(lines, index):
            quoted.extend(lines[index:])
            break
        (quoted if line.lstrip().startswith(">") else own).append(line)
    return tidy("\n".join(own)), tidy("\n".join(quoted))


def _starts_history(lines: list[str], index: int) -> bool:
    line = lines[index]
    if QUOTE_INTRO.match(line) or HISTORY_SEPARATOR.match(line):
        return True
    return bool(_HEADER_FROM.match(line)) and any(
        _HEADER_NEXT.match(following) for following in lines[index + 1 : index + 3]
    )


def own_words(text: str) -> str:
    """The writer's own words: no quoted history, no signature, no boilerplate line.

    Never empty when ``text`` has words only because of what it takes away: a message that
    is nothing but a closing formula keeps it (``Merci``, ``Cordialement``)."""
    own, _ = split_quoted(text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n"))
    kept: list[str] = []
    for line in own.split("\n"):
        if _SIGNATURE_START.match(line) or (_CLOSING.match(line) and _has_words(kept)):
            break
        if not _is_boilerplate(line):
            kept.append(line)
    return tidy("\n".join(kept)) or own


def _is_boilerplate(line: str) -> bool:
    hinted = _BOILERPLATE_HINTS.search(line.lower()) is not None
    return hinted and _BOILERPLATE.search(line) is not None


def _has_words(lines: list[str]) -> bool:
    return any(any(c.isalpha() for c in line) for line in lines)


def tidy(text: str) -> str:
    """Line ends as ``\\n``, no trailing blanks, at most one empty line in a row, trimmed."""
    if not text:
        return text
    lines = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    return (_BLANK_LINES.sub("\n\n", lines) if "\n\n\n" in lines else lines).strip()

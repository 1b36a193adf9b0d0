"""A message's own words: what its writer wrote this time, apart from what came with it.

A buyer's message carries more than the buyer's words: the earlier messages it quotes (``>``
lines, or everything after "On … wrote:" / "-----Original Message-----" / an Outlook header
block), a signature (``-- ``, a closing formula, "Sent from my iPhone") and the footer or
header block a marketplace or mail service writes ("Please do not reply to this message").
Each is cut by its structure, never by a phrase met inside a sentence: a buyer who writes
"vous ne répondez pas à mes messages" keeps the sentence. The poller shows the quoted
history apart (``split_quoted``); what a message is about and in which language are read on
the rest (``own_words``). Pure.
"""

from __future__ import annotations

import re

# The line that introduces a quoted earlier message, as the mail clients write it in the
# languages we serve (Gmail, Apple Mail, Thunderbird, Outlook on the web): it ends in a
# colon after the verb, or after the name and address that follow it ("Am … schrieb Shop
# <shop@example.com>:"). The colon is what tells it from a sentence ("Le vendeur m'a écrit").
_QUOTE_VERB = (
    r"(On|Le|Am|El|Il|Op|Em|W dniu|Dnia)\b.*\b(wrote|a écrit|schrieb|escribió|ha scritto"
    r"|schreef|escreveu|napisał\(?a?\)?|pisze)"
    r"|.*\b(napisał\(?a?\)?|pisze|escreveu)"
)
QUOTE_INTRO = re.compile(rf"^\s*({_QUOTE_VERB})\b[^:\n]{{0,120}}:\s*$", re.IGNORECASE)
# A mail client's separator above a forwarded or replied-to message: everything from it on
# is history, whether its lines are quoted or not. Apple Mail's forward intro has no dashes.
HISTORY_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|message d'origine|message original|ursprüngliche nachricht"
    r"|originalnachricht|mensaje original|messaggio originale|oorspronkelijk bericht"
    r"|mensagem original|wiadomość oryginalna|oryginalna wiadomość|forwarded message"
    r"|message transféré|weitergeleitete nachricht|mensaje reenviado|messaggio inoltrato"
    r"|doorgestuurd bericht|mensagem encaminhada|przekazana wiadomość|wiadomość przekazana)"
    r"\s*-{2,}"
    r"|(begin forwarded message|début du message réexpédié|anfang der weitergeleiteten nachricht"
    r"|inicio del mensaje reenviado|comienzo del mensaje reenviado|inizio messaggio inoltrato"
    r"|begin doorgestuurd bericht|início da mensagem reencaminhada|início da mensagem encaminhada"
    r"|początek przekazywanej wiadomości|początek przekazanej wiadomości)\s*:)\s*$",
    re.IGNORECASE,
)
# An Outlook-style header block ("From: …" then "Sent: …" or "Date: …" on one of the next
# two lines): a reply's history. Not "From:" then "To:" alone: a delivery report lists those.
_HEADER_FROM = re.compile(r"^\s*\*?(from|de|von|da|van|od)\s*\*?\s*:\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|date|envoyé|gesendet|datum|enviado( el)?|enviada|fecha|inviato|data|verzonden"
    r"|wysłano|wysłane)\s*\*?\s*:",
    re.IGNORECASE,
)
# A signature's delimiter, or a mail client's tag on a line of its own ("Sent from my
# iPhone", "Von meinem iPhone gesendet", "Wysłane z iPhone'a", "Get Outlook for Android"):
# nothing after it is the message. The tag is a short line that names a device or a client.
_SIGNATURE_START = re.compile(
    r"^\s*(--\s*|_{3,}|={3,}|-{5,}"
    r"|(sent|envoyé|envoye|von meine[mr]|gesendet|enviado|enviada|inviato|verzonden|verstuurd"
    r"|wysłane|wysłano|wyslane)"
    r"\b[^.!?\n]{0,40}?\b(iphone|ipad|android|samsung|galaxy|huawei|xiaomi|mobile|smartphone"
    r"|smartfon|outlook|gmail|yahoo|handy|móvil|movil|cellulare|telemóvel|celular|telefoon"
    r"|telefon|appareil|dispositivo|apparaat|urządzeni|windows|blackberry)"
    r"[\w'’]*[^.!?\n]{0,30}?[.!]?"
    r"|(sent|envoyé|enviado|inviato|verzonden|verstuurd|wysłane|wysłano)"
    r" (from|de|depuis|desde|da|dal|do|vanaf|met|z|via) (my|mon|ma|mi|il mio|mijn|meu|o meu"
    r"|mojego|mojej)?\s?[\w'’-]+( [\w'’-]+)?[.!]?"
    r"|((get|obtenir|télécharger|obtener|descargar|scarica|obter|baixar|baixe|pobierz)\b"
    r"[^.!?\n]{0,20})?\boutlook (for|pour|für|para|per|voor|dla) (ios|android)\b"
    r"[^.!?\n]{0,20})\s*$",
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
# A footer's or header's sentence speaks of *this* message, mail or address (a buyer's of
# "my messages"): the demonstrative, in each language we serve, then what the mail is.
_THIS_MAIL = (
    r"(this|ce|cet|cette|diese|dieser|diesem|diesen|este|esta|questo|questa|quest'"
    r"|dit|deze|ta|tę|tej|ten|tego|niniejsza|niniejszą)\s?"
    r"(automatic\w*\s|automatique\s|automatische\w?\s|automático\s|automatica\s|automatico\s"
    r"|automatisch\s|automatyczn\w+\s)?"
    r"(e-?mails?|mails?|messages?|courriels?|adresse|address|nachricht|correo|mensaje"
    r"|messaggio|bericht|mensagem|wiadomoś\w+|indirizzo|dirección|endereço|adres|notification"
    r"|benachrichtigung|notifica\w*|melding|notificação|powiadomieni\w+|mailbox|boîte)\b"
)
# A polite lead ("Please", "Merci de", "Bitte", "Por favor", "Si prega di", "Gelieve", …).
_POLITE = (
    r"((please|kindly|merci de|veuillez|prière de|nous vous (prions|remercions) de|bitte"
    r"|por favor|si prega di|vi preghiamo di|la preghiamo di|gelieve|wij verzoeken u"
    r"|prosimy( o)?|proszę)[ ,]+)?"
)
# Not to answer: the imperative (or infinitive) a footer uses, never a second person's
# statement ("vous ne répondez pas", "Państwo nie odpowiadają").
_NO_REPLY = (
    r"(do not|don't|never) (reply|respond|answer)|ne (pas|jamais) (y )?répondre"
    r"|ne répondez (pas|jamais)|antworten sie nicht|nicht\b.{0,40}\bantworten"
    r"|no (responda|respondas|conteste|contestes)|non (rispondere|risponda|rispondete)"
    r"|niet\b.{0,40}\b(antwoorden|reageren|beantwoorden)|beantwoord\b.{0,40}\bniet"
    r"|reageer niet|não (responda|responder|respondas)|nie (odpowiadaj|odpowiadać"
    r"|należy odpowiadać)"
)
# What a sentence that begins with "this message" says of it: sent by a service or
# automatically, confidential, not to be answered.
_ABOUT_THE_MAIL = (
    r"sent|envoyé|gesendet|versandt|verschickt|enviad|inviat|verzonden|verstuurd|wysłan"
    r"|transmis|transmitted|forwarded|übermittelt|weitergeleitet|trasmess|doorgestuurd"
    r"|reenviad|encaminhad|przekazan|generat|généré|erzeugt|erstellt|gerad|automatic|automatique|automatisch|automátic"
    r"|automatyczn|confiden|vertraulich|riservat|vertrouwelijk|poufn|antwort|répon|reply"
    r"|respond|rispond|beantwoord|odpowiad"
)
_UNSUBSCRIBE = (
    r"(to )?unsubscribe|pour (vous )?(désabonner|désinscrire)|se désabonner|(zum )?abmelden"
    r"|abbestellen|(para )?darse de baja|per (annullare l'iscrizione|disiscriverti|disiscriversi)"
    r"|(om (je|u) )?af te melden|afmelden|para (cancelar|anular) a (sua )?subscrição"
    r"|aby (się )?wypisać|wypisz się"
)
_IF_IN_ERROR = (
    r"(if|si|wenn|falls|se|als|jeśli|jeżeli|caso)\b.{0,80}\b"
    + _THIS_MAIL
    + r".{0,80}\b(error|erreur|irrtümlich|fehlerhaft|errore|abuis|engano|erro|pomyłk|błęd)"
)
# A marketplace's header line over the buyer's words ("Nouveau message de l'acheteur :").
_BUYER_MESSAGE_HEADER = (
    r"(new |nouveau |neue |nuevo |nuovo |nieuw |nova |nowa )?(message|nachricht|mensaje"
    r"|messaggio|bericht|mensagem|wiadomość)\b.{0,40}\b(buyer|customer|acheteur|client|käufer"
    r"|kunde|comprador|cliente|acquirente|koper|klant|kupując|klient)\w*\s*:$"
)
# A mail named without a demonstrative ("Message envoyé via <la place>", "Message sent from the
# customer area") is the footer's when the sentence says how it travelled: sent, through what.
_MAIL_SENT_THROUGH = (
    r"(e-?mail|mail|message|nachricht|mensaje|messaggio|bericht|mensagem|wiadomość)\b.{0,40}"
    r"\b(sent|envoyé|transmis|forwarded|übermittelt|trasmess|doorgestuurd|encaminhad|przekazan"
    r"|gesendet|versandt|verschickt|enviad|inviat|verzonden|verstuurd"
    r"|wysłan)\w*\s.{0,30}\b(via|through|from|by|par|depuis|über|von|desde|través|tramite|da"
    r"|vanuit|através|pelo|pela|przez|z)\b"
)
# A whole sentence of a footer or header block begins with one of these, after a brand and
# a dash at most ("<Marque> – Ce message a été envoyé …", "<Brand> sent this message …").
_FOOTER_SENTENCE = re.compile(
    rf"^\W*([\w.]+\s*[–—-]\s*)?{_POLITE}(({_NO_REPLY})(\W.*\b{_THIS_MAIL}.*)?[.!]?$"
    rf"|{_THIS_MAIL}.*\b({_ABOUT_THE_MAIL})|{_MAIL_SENT_THROUGH}|[\w.]+ sent {_THIS_MAIL}|{_BUYER_MESSAGE_HEADER}"
    rf"|{_IF_IN_ERROR}|({_UNSUBSCRIBE})\b)",
    re.IGNORECASE,
)
_URL_LINE = re.compile(r"^\s*<?https?://\S+>?\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!])\s+")
_FOOTER_SENTENCE_MAX = 240  # a footer's sentence is short: a long one is someone's text
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
    if _wrapped_intro(lines, index):
        return True
    return bool(_HEADER_FROM.match(line)) and any(
        _HEADER_NEXT.match(following) for following in lines[index + 1 : index + 3]
    )


def _wrapped_intro(lines: list[str], index: int) -> bool:
    """Gmail wraps a long intro line: "On Fri, … Shop <" then "shop@example.com> wrote:"."""
    if index + 1 >= len(lines) or not lines[index].strip() or ":" in lines[index][-2:]:
        return False
    if not lines[index + 1].rstrip().endswith(":"):  # the intro's colon ends the next line
        return False
    joined = f"{lines[index].rstrip()} {lines[index + 1].strip()}"
    return len(joined) < 200 and QUOTE_INTRO.match(joined) is not None


def own_words(text: str) -> str:
    """The writer's own words: no quoted history, no signature, no footer or header block.

    Never empty when ``text`` has words only because of what it takes away: a message that
    is nothing but a closing formula keeps it (``Merci``, ``Cordialement``)."""
    own, _ = split_quoted(text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n"))
    kept: list[str] = []
    for line in own.split("\n"):
        if _SIGNATURE_START.match(line) or (_CLOSING.match(line) and _has_words(kept)):
            break
        kept.append(line)
    return tidy("\n".join(without_blocks(kept))) or own


def without_blocks(lines: list[str]) -> list[str]:
    """``lines`` without the marketplace's footer at their end nor its header at their start:
    whole lines, each nothing but sentences about the mail itself (or a bare link)."""
    start, end = 0, len(lines)
    while end > start and (not lines[end - 1].strip() or is_footer_line(lines[end - 1])):
        end -= 1
    while start < end and (not lines[start].strip() or is_footer_line(lines[start])):
        start += 1
    return lines[start:end]


def is_footer_line(line: str) -> bool:
    """A line a marketplace or mail service writes around a message: a bare link, or a line
    that opens on a sentence about this very mail ("Please do not reply to this e-mail.",
    "Ce message a été envoyé via la messagerie <de la place>. Ne partagez jamais …") and asks
    nothing."""
    if _URL_LINE.match(line):
        return True
    text = line.strip()
    if "?" in text:
        return False
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    return len(first) <= _FOOTER_SENTENCE_MAX and _FOOTER_SENTENCE.match(first) is not None


def _has_words(lines: list[str]) -> bool:
    return any(any(c.isalpha() for c in line) for line in lines)


def tidy(text: str) -> str:
    """Line ends as ``\\n``, no trailing blanks, at most one empty line in a row, trimmed."""
    if not text:
        return text
    lines = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    return (_BLANK_LINES.sub("\n\n", lines) if "\n\n\n" in lines else lines).strip()

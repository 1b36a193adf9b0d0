"""The buyer's own words, cut only where the text is structurally not theirs (issue 65): a
quote (its header or ``>`` marker), a signature block (``-- ``, a mobile or mail client's
tag), a marketplace's footer or header as a block of whole lines at the text's end or start.
A buyer's sentence that holds a boilerplate phrase is the buyer's. Each case in each of the
eight languages we serve (fr, de, es, it, en, pl, nl, pt)."""

from __future__ import annotations

import pytest
from keybuzz_shared.own_words import is_footer_line, own_words, split_quoted

# The buyer's words in each language, each with a sentence that holds what a footer says
# ("you don't answer my messages", "do not reply"): they are the buyer's, kept whole.
ANGRY = {
    "fr": "J'attends depuis 10 jours, vous ne répondez pas à mes messages. Où est ma commande ?",
    "de": "Ich warte seit 10 Tagen, Sie antworten nicht auf meine Nachrichten. Wo ist meine Bestellung?",
    "es": "Llevo 10 días esperando y no responden a mis mensajes. ¿Dónde está mi pedido?",
    "it": "Aspetto da 10 giorni, non rispondete ai miei messaggi. Dov'è il mio ordine?",
    "en": "I've waited 10 days, you keep telling me please do not reply. Where is my order?",
    "pl": "Czekam od 10 dni, Państwo nie odpowiadają na wiadomości. Gdzie jest moje zamówienie?",
    "nl": "Ik wacht al 10 dagen, u reageert niet op mijn berichten. Waar is mijn bestelling?",
    "pt": "Espero há 10 dias e não respondem às minhas mensagens. Onde está a minha encomenda?",
}
NAME = "Marc Durand"

# Each language's quote headers (Gmail, Apple Mail, Thunderbird, Outlook), as each client writes them.
QUOTE_HEADERS = {
    "fr": [
        "Le ven. 20 nov. 2026 à 09:00, Boutique <shop@example.com> a écrit :",
        "Le 20 nov. 2026 à 09:00, Boutique <shop@example.com> a écrit :",  # Apple Mail
        "Le 20/11/2026 à 09:00, Boutique a écrit :",  # Thunderbird
        "-------- Message d'origine --------",
        "De : Boutique <shop@example.com>\nEnvoyé : vendredi 20 novembre 2026 09:00",
        "Début du message réexpédié :",
    ],
    "de": [
        "Am Fr., 20. Nov. 2026 um 09:00 Uhr schrieb Shop <shop@example.com>:",
        "Am 20.11.2026 um 09:00 schrieb Shop:",  # Thunderbird
        "-----Ursprüngliche Nachricht-----",
        "Von: Shop <shop@example.com>\nGesendet: Freitag, 20. November 2026 09:00",
        "Anfang der weitergeleiteten Nachricht:",
    ],
    "es": [
        "El vie, 20 nov 2026 a las 9:00, Tienda (<shop@example.com>) escribió:",
        "-----Mensaje original-----",
        "De: Tienda <shop@example.com>\nEnviado: viernes, 20 de noviembre de 2026 9:00",
        "De: Tienda <shop@example.com>\nEnviado el: viernes, 20 de noviembre de 2026 9:00",
        "Inicio del mensaje reenviado:",
    ],
    "it": [
        "Il giorno ven 20 nov 2026 alle ore 09:00 Negozio <shop@example.com> ha scritto:",
        "Il 20/11/2026 09:00, Negozio ha scritto:",  # Thunderbird
        "-----Messaggio originale-----",
        "Da: Negozio <shop@example.com>\nInviato: venerdì 20 novembre 2026 09:00",
    ],
    "en": [
        "On Fri, Nov 20, 2026 at 9:00 AM Shop <shop@example.com> wrote:",
        "On Fri, Nov 20, 2026 at 9:00 AM Shop Customer Service <\nshop@example.com> wrote:",
        "On 20 Nov 2026, at 09:00, Shop <shop@example.com> wrote:",  # Apple Mail
        "-----Original Message-----",
        "From: Shop <shop@example.com>\nSent: Friday, November 20, 2026 9:00 AM",
        "Begin forwarded message:",
    ],
    "pl": [
        "pt., 20 lis 2026 o 09:00 Sklep <shop@example.com> napisał(a):",
        "W dniu 20.11.2026 o 09:00, Sklep pisze:",  # Thunderbird
        "-----Wiadomość oryginalna-----",
        "Od: Sklep <shop@example.com>\nWysłano: piątek, 20 listopada 2026 09:00",
    ],
    "nl": [
        "Op vr 20 nov. 2026 om 09:00 schreef Winkel <shop@example.com>:",
        "-----Oorspronkelijk bericht-----",
        "Van: Winkel <shop@example.com>\nVerzonden: vrijdag 20 november 2026 09:00",
    ],
    "pt": [
        "Em sex., 20 de nov. de 2026 às 09:00, Loja <shop@example.com> escreveu:",
        "-----Mensagem original-----",
        "De: Loja <shop@example.com>\nEnviado: sexta-feira, 20 de novembro de 2026 09:00",
    ],
}

# Each language's mobile and mail client tags.
SIGNATURES = {
    "fr": [
        "Envoyé de mon iPhone",
        "Envoyé depuis mon appareil Galaxy",
        "Obtenir Outlook pour Android",
    ],
    "de": [
        "Von meinem iPhone gesendet",
        "Von meinem Samsung Galaxy Smartphone gesendet.",
        "Outlook für Android herunterladen",
    ],
    "es": [
        "Enviado desde mi iPhone",
        "Enviado desde mi smartphone Samsung Galaxy",
        "Obtener Outlook para Android",
        "Enviado desde mi Redmi",  # a device no list names
    ],
    "it": [
        "Inviato da iPhone",
        "Inviato dal mio dispositivo Galaxy",
        "Scarica Outlook per Android",
    ],
    "en": [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for Android",
        "Sent from my Pixel 8",
    ],
    "pl": [
        "Wysłane z iPhone'a",
        "Wysłane z mojego smartfona Galaxy",
        "Pobierz Outlook dla Android",
    ],
    "nl": [
        "Verstuurd vanaf mijn iPhone",
        "Verzonden met mijn Galaxy",
        "Outlook voor Android downloaden",
    ],
    "pt": [
        "Enviado do meu iPhone",
        "Enviado do meu smartphone Galaxy",
        "Obter o Outlook para Android",
    ],
}

# Each language's marketplace or mail service footer, as the block it writes.
FOOTERS = {
    "fr": "Ce message a été envoyé via la messagerie ManoMano.\nMerci de ne pas répondre à cet e-mail.",
    "de": "Diese Nachricht wurde über das Kaufland-Nachrichtensystem gesendet.\nBitte antworten Sie nicht auf diese E-Mail.",
    "es": "Este mensaje ha sido enviado a través de la mensajería de la tienda.\nPor favor, no responda a este correo electrónico.",
    "it": "Questo messaggio è stato inviato tramite la messaggistica del negozio.\nSi prega di non rispondere a questa e-mail.",
    "en": "This message was sent through the marketplace's messaging service.\nPlease do not reply to this email.",
    "pl": "Ta wiadomość została wysłana przez system wiadomości sklepu.\nProsimy nie odpowiadać na tę wiadomość.",
    "nl": "Dit bericht is verzonden via de berichtendienst van de winkel.\nBeantwoord dit bericht niet.",
    "pt": "Esta mensagem foi enviada através do serviço de mensagens da loja.\nPor favor, não responda a este e-mail.",
}

LANGUAGES = sorted(ANGRY)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_buyers_sentence_with_a_boilerplate_phrase_is_kept_whole(language: str) -> None:
    text = f"{ANGRY[language]}\n\n{NAME}"
    assert own_words(text) == text
    assert not is_footer_line(ANGRY[language])


@pytest.mark.parametrize(
    ("language", "header"),
    [(language, header) for language in LANGUAGES for header in QUOTE_HEADERS[language]],
)
def test_a_quote_starts_at_its_header(language: str, header: str) -> None:
    text = f"{ANGRY[language]}\n\n{header}\n> Votre colis est parti.\nOld history"
    assert own_words(text) == ANGRY[language]
    own, quoted = split_quoted(text)
    assert own == ANGRY[language]
    assert quoted.startswith(header.split("\n")[0].strip())


@pytest.mark.parametrize("language", LANGUAGES)
def test_quoted_lines_are_not_the_buyers(language: str) -> None:
    text = f"> An earlier message\n> on two lines\n\n{ANGRY[language]}"
    assert own_words(text) == ANGRY[language]


@pytest.mark.parametrize(
    ("language", "signature"),
    [(language, tag) for language in LANGUAGES for tag in SIGNATURES[language]],
)
def test_a_mobile_or_mail_clients_tag_ends_the_buyers_words(language: str, signature: str) -> None:
    assert own_words(f"{ANGRY[language]}\n\n{signature}\n{NAME}") == ANGRY[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_signature_delimiter_ends_the_buyers_words(language: str) -> None:
    text = f"{ANGRY[language]}\n{NAME}\n-- \n{NAME}\n+33 6 12 34 56 78"
    assert own_words(text) == f"{ANGRY[language]}\n{NAME}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_marketplace_footer_is_cut_as_a_block_at_the_end(language: str) -> None:
    text = f"{ANGRY[language]}\n\n{FOOTERS[language]}\nhttps://marketplace.example/unsubscribe"
    assert own_words(text) == ANGRY[language]
    assert all(is_footer_line(line) for line in FOOTERS[language].split("\n"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_marketplace_header_is_cut_as_a_block_at_the_start(language: str) -> None:
    text = f"{FOOTERS[language]}\n\n{ANGRY[language]}\n\n{NAME}"
    assert own_words(text) == f"{ANGRY[language]}\n\n{NAME}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_footer_sentence_between_the_buyers_words_is_kept(language: str) -> None:
    # Not at an end: not the marketplace's block (a buyer copying its words, say).
    footer = FOOTERS[language].split("\n")[1]
    text = f"{ANGRY[language]}\n{footer}\n{NAME}"
    assert own_words(text) == text


@pytest.mark.parametrize("language", LANGUAGES)
def test_everything_at_once(language: str) -> None:
    text = (
        f"{ANGRY[language]}\n\n{NAME}\n\n{SIGNATURES[language][0]}\n\n{FOOTERS[language]}\n\n"
        f"{QUOTE_HEADERS[language][0]}\n> Earlier"
    )
    assert own_words(text) == f"{ANGRY[language]}\n\n{NAME}"


@pytest.mark.parametrize(
    "text",
    [  # a sentence that tells of writing: not a quote header (no colon)
        "Bonjour.\nLe vendeur m'a écrit\nMerci.",
        "Hello.\nOn Monday I wrote to you twice.\nThanks.",
        "Hallo.\nAm Montag schrieb ich Ihnen schon.\nDanke.",
        "Hello.\nSent it back from my office, where is the refund\nThanks.",
        # a last line about messages: the buyer's, not a footer's
        "Where is my order?\nI have sent this message three times already.",
        "Where is my order?\nPlease do not reply with a template again.",
        "Où est ma commande ?\nVous ne répondez jamais à mes e-mails.",
        "Wo ist meine Bestellung?\nSie antworten nie auf diese Nachrichten, unglaublich.",
    ],
)
def test_a_buyers_line_that_tells_of_writing_or_messages_is_the_buyers(text: str) -> None:
    assert own_words(text) == text


@pytest.mark.parametrize(
    "footer",
    [  # each marketplace's block as the labeled messages show it (assumed forms)
        "*** Message transmis via la messagerie Cdiscount. Pour votre sécurité, ne communiquez "
        "jamais vos coordonnées bancaires. ***",
        "Message client transmis par la Marketplace Darty.",
        "Ce message a été transmis par Fnac Marketplace. Ne répondez pas en dehors de la messagerie.",
        "Ce message vous a été envoyé via Back Market. Ne partagez jamais de données bancaires "
        "dans vos échanges.",
        "This message was sent via Back Market. Never share payment details in your messages.",
        "ManoMano – Ce message a été envoyé depuis l'espace client. Ne répondez pas directement "
        "à cet e-mail.",
        "Message envoyé via Rakuten. Nous vous rappelons que tout échange doit se faire via la "
        "messagerie Rakuten.",
        "eBay sent this message on behalf of an eBay member via My Messages. Responses sent "
        "using email will go to the eBay member directly and will include your email address.",
        "— Message sent from the marketplace customer area. Please reply from your seller back "
        "office. —",
        "This email and any attachments are confidential and intended solely for the addressee.",
        "If you received this message in error, please delete it.",
    ],
)
def test_each_marketplaces_footer_is_a_block(footer: str) -> None:
    assert own_words(f"{ANGRY['fr']}\n\n{NAME}\n\n{footer}") == f"{ANGRY['fr']}\n\n{NAME}"


def test_a_marketplaces_header_line_over_the_buyers_words_is_not_theirs() -> None:
    text = f"Nouveau message de l'acheteur :\n\n{ANGRY['fr']}"
    assert own_words(text) == ANGRY["fr"]

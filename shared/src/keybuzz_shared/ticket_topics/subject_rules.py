"""What a buyer's words are about, by rules: phrases in French, English, German, Spanish,
Italian, Dutch, Portuguese and Polish, each weighing for one subject.

The text is folded first (lower case, accents off, ``ß`` → ``ss``, ``ł`` → ``l``), so the
phrases are written once without accents. Every language's phrases are read on every
message: a buyer may mix them, the detector may be wrong on three words, and no phrase of
one language means another subject in another. A phrase that says what the buyer does
*not* want or have ("je ne veux pas annuler", "not damaged") counts for nothing: a
negation among the few words before it, in the same clause, takes it away. Not for the
phrases that carry their own negation ("pas reçu", "doesn't work"), nor for a refund or an
invoice, which a buyer asks for by saying they have not had it ("pas été remboursé"). The subject with
the most weight wins when it has at least ``MIN_SCORE``; else ``OTHER``: a wrong subject
routes worse than none. One regular expression, one pass over at most ``MAX_CHARS``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final, NamedTuple

from keybuzz_shared.ticket_topics.taxonomy import Subject

MIN_SCORE: Final = 2
MAX_CHARS: Final = 1000  # a buyer's request is said early; a huge text costs no more
SURE, STRONG, MEDIUM, WEAK = 4, 3, 2, 1

# When two subjects weigh the same, the more specific one: a damaged item is also a return.
PRIORITY: Final[tuple[Subject, ...]] = (
    "DAMAGED_OR_WRONG_ITEM",
    "CANCELLATION",
    # An invoice asked for a refund by someone else (an employer, a works council) is an
    # invoice: a refund asked for with an invoice word weighs more than the invoice.
    "INVOICE_REQUEST",
    "RETURN_OR_REFUND",
    "ORDER_CHANGE",
    "WHERE_IS_MY_ORDER",
    "PRODUCT_QUESTION",
)

# (subject, weight, negatable) and its phrases (regular expressions on folded text).
_RULES: Final[tuple[tuple[tuple[Subject, int, bool], tuple[str, ...]], ...]] = (
    (
        ("WHERE_IS_MY_ORDER", STRONG, False),
        (
            # fr
            r"ou (en )?est (ma|mon|la|le) (commande|colis|livraison|paquet|article)",
            r"(pas|rien|jamais) (encore |toujours |du tout )?(ete )?(recu|livre|arrive|expedie)",
            r"toujours pas (de )?(colis|commande|livraison|nouvelles)",
            r"n'(est|a) (toujours |pas |jamais )*(pas |jamais )(encore )?(ete )?(arrive|livre|expedie)",
            r"quand (vais-je|vais je|est-ce que je vais|pourrai-je|allez-vous) (le |la |les )?(recevoir|etre livre)",
            r"quand (est-ce que )?(elle|il|le colis|la commande|ma commande|mon colis|le produit|l'article|mon article|mon paquet) (va )?(arrive|arrivera|sera (livree?|expediee?)|partira)",
            r"numero de suivi",
            r"suivi (de|du) (mon |ma |la |le )?(colis|commande|livraison|envoi)",
            # en
            r"where is my (order|parcel|package|item|delivery|stuff)",
            r"(not|never|n't|yet to|still not|still haven't) (been |yet |even )?(received|arrived|delivered|shipped|dispatched|come|turned up|got)",
            r"(hasn't|has not|haven't|have not|didn't|did not|hasnt|havent|didnt) (yet )?(arrive|arrived|receive|received|been delivered|been shipped|come|shipped)",
            r"still waiting (for|on) (my |the )?(order|parcel|package|delivery|item)",
            r"when will (my |the |it|i|this|you)\b.{0,30}\b(arrive|be delivered|receive|ship|get)",
            r"tracking (number|info|information|link|code)",
            # de
            r"wo (ist|bleibt) (meine|mein|die|das) (bestellung|paket|lieferung|sendung|ware)",
            r"(noch |immer noch |bisher )?(nicht|nichts|keine|kein) (\w+[ ']){0,2}(erhalten|bekommen|angekommen|geliefert|zugestellt|eingetroffen|versandt|verschickt)",
            r"wann (kommt|wird|erhalte|bekomme|kann ich)\b.{0,40}\b(geliefert|versandt|verschickt|kommen|erhalten|bekommen|ankommen|rechnen)",
            r"sendungs(nummer|verfolgung)|trackingnummer|tracking-nummer",
            # es
            r"donde (esta|se encuentra) (mi|el) (pedido|paquete|envio|producto)",
            r"(no|todavia no|aun no|nunca) (me )?(he|ha|han) (recibido|llegado|enviado)",
            r"(no|todavia no|aun no) (lo |la )?(he )?recibido",
            r"cuando (llegara|recibire|lo recibire|me llegara|se enviara|van a enviar)",
            r"numero de seguimiento|seguimiento del (pedido|paquete|envio)",
            # it
            r"dov'?e (il mio|l'|la mia) ?(ordine|pacco|spedizione|articolo)",
            r"dove (e|si trova) (il mio|la mia) (ordine|pacco|spedizione)",
            r"non (ho |mi e |e )?(ancora |mai )?(ricevuto|arrivato|stato consegnato|stato spedito|consegnato)",
            r"quando (arrivera|ricevero|verra spedito|sara consegnato|mi arriva)",
            r"(numero|codice) di (tracciamento|tracking|spedizione)",
            # nl
            r"waar (is|blijft) (mijn|de|het) (bestelling|pakket|pakje|zending|levering)",
            r"(nog )?(niet|niets|geen) (\w+[ ']){0,2}(ontvangen|bezorgd|geleverd|aangekomen|verzonden)",
            r"wanneer (wordt|komt|krijg|ontvang)\b.{0,40}\b(geleverd|bezorgd|verzonden|binnen|ontvangen)?",
            r"track ?(en|&|and) ?trace|trackingcode|volgnummer",
            # pt
            r"onde (esta|se encontra|anda) (a minha|o meu) (encomenda|pedido|pacote|artigo)",
            r"(ainda )?nao (me )?(recebi|chegou|foi entregue|foi enviad|foi expedid)",
            r"quando (vou receber|chega|chegara|sera entregue|vai chegar|sera enviad)",
            r"(codigo|numero) de (rastreio|rastreamento|seguimento|tracking)",
            # pl
            r"gdzie jest (moje |moja )?(zamowienie|paczka|przesylka)",
            r"(nadal |jeszcze |wciaz )?nie (\w+[ ']){0,2}(otrzymal|dostal|dotarl|doszl|przyszl|wyslal|zostal\w* wyslan|dostarcz)",
            r"kiedy (dotrze|przyjdzie|otrzymam|dostane|zostanie wyslan|bedzie dostarczon)",
            r"numer (przesylki|sledzenia|paczki)",
        ),
    ),
    (
        ("WHERE_IS_MY_ORDER", STRONG, True),
        (
            r"\b(devait|censee? (m')?arriver|aurait du arriver|pas (encore )?la|tjs pas|toujours pas (arrive|la|recu|livre)|pas de nouvelles|aucune nouvelle|toujours en attente|est-elle partie|a-t-(il|elle) ete expedie|deja expedie)",
            r"\b(supposed to (arrive|be delivered|come)|was due|expected (delivery|on|by)|not here yet|still not here|any (update|news) on (my|the) (order|parcel|package|delivery)|has (it|my order) (been )?(shipped|dispatched|sent)|when (will|do) you (ship|send|dispatch))",
            r"\b(immer noch nicht (da|angekommen|geliefert)|noch nicht da|sollte (\w+[ ']){0,4}(ankommen|kommen|geliefert)|schon (versendet|verschickt|unterwegs)|(wurde|ist) (sie|es|das paket|die bestellung) (schon )?versendet)",
            r"\b(todavia no (ha )?(llega|llegado)|aun no (llega|ha llegado)|no (me )?llega|no ha llegado|debia llegar|deberia haber llegado|sigo esperando|ya (se ha |lo han )?enviado)",
            r"\b(non (e )?ancora arrivat|doveva arrivare|sarebbe dovuto arrivare|sto ancora aspettando|ancora niente|e (gia )?stato spedito|avete spedito)",
            r"\b(nog (steeds )?niet (binnen|aangekomen|bezorgd|geleverd|ontvangen)|nog niks|zou (\w+[ ']){0,3}(aankomen|geleverd|bezorgd)|al verzonden|wacht (nog steeds|al)|is (het|mijn pakket) (al )?verzonden)",
            r"\b(ainda nao (chegou|recebi)|devia ter chegado|deveria ter chegado|continuo (a espera|esperando)|ja foi (enviad|expedid))",
            r"\b(nadal (nie|czekam)|wciaz (nie|czekam)|(miala|mialo|mial) (dotrzec|przyjsc|byc)|czy (zostalo|zostala) (juz )?wyslan|kiedy wyslecie)",
        ),
    ),
    (
        ("WHERE_IS_MY_ORDER", STRONG, False),
        (
            r"\b(quand|when|wann|cuando|quando|wanneer|kiedy)\b.{0,60}\b(arriv|recevoir|recu|livr|deliver|receive|ship|dispatch|ankommen|ankommt|kommt|geliefert|erhalte|versendet|llega|recib|envia|ricev|consegn|sped|komt|geleverd|bezorgd|ontvang|verzonden|cheg|receb|entreg|dotrze|przyjdzie|otrzym|dostan|wysl)",
        ),
    ),
    (
        ("WHERE_IS_MY_ORDER", MEDIUM, False),
        (
            r"\b(colissimo|chronopost|mondial relay|relais colis|dhl|dpd|gls|ups|fedex|hermes|correos|seur|mrw|brt|sda|poste italiane|postnl|bpost|ctt|inpost|poczta polska)\b",
            r"\b(bloque|stuck|feststeck|hangt|haengt|parado|atascad|fermo|bloccat|vast|blijft hangen|parad[oa]|utknel|stoi)\b",
        ),
    ),
    (
        ("WHERE_IS_MY_ORDER", MEDIUM, True),
        (
            r"\b(delai|date|retard) de livraison|en retard|\bretard\b|colis (perdu|bloque|egare)",
            r"\b(delayed|late delivery|delivery (date|status|time)|lost (parcel|package)|shipping status|order status|tracking)\b",
            r"\b(lieferzeit|lieferdatum|lieferstatus|verspatung|verzogerung|verspatet)",
            r"\b(retraso|plazo de entrega|estado (de mi|del) pedido|seguimiento)\b",
            r"\b(ritardo|in ritardo|tracciamento|stato dell'ordine)\b",
            r"\b(vertraging|levertijd|leverdatum|status van mijn bestelling)\b",
            r"\b(atraso|atrasad|prazo de entrega|rastreio|estado da encomenda)",
            r"\b(opoznien|opozni|status zamowienia|sledzeni)",
        ),
    ),
    (
        ("WHERE_IS_MY_ORDER", WEAK, True),
        (
            r"\b(colis|livraison|expedi|expedition|paquet)",
            r"\b(parcel|package|delivery|shipping|shipment|shipped|dispatch)",
            r"\b(paket|lieferung|sendung|versand)",
            r"\b(paquete|envio|entrega)\b",
            r"\b(pacco|spedizione|consegna)\b",
            r"\b(pakket|pakje|levering|zending|bezorging)\b",
            r"\b(encomenda|envio|entrega)\b",
            r"\b(paczk|przesylk|dostaw|wysylk)",
        ),
    ),
    (
        ("RETURN_OR_REFUND", STRONG, False),
        (
            r"\b(rembours|retourner|renvoyer (le|la|l'|les|cet|ce)|bon de retour|etiquette de retour|retractation|avoir un avoir|echanger)",
            r"\b(refund|reimburs|money back|send (it|this|them|the \w+) back|return (label|it|this|them|the|my)|exchange (it|this|the|for))",
            r"\b(erstatt|ruckerstatt|ruckzahlung|zuruck(senden|schicken|geben)|ruckgabe|rucksend|retoure|umtausch|geld zuruck|widerruf)",
            # de, the separable and past forms: "schicke es zurück", "tausche sie um"
            r"\b(zuruck(geschickt|gesendet|gesandt|bringen|zuschicken|zusenden|zugeben)|retournier|ruckversand|gutschrift|umzutauschen|umgetauscht|(mein|das) geld (\w+[ ']){0,3}zuruck)",
            r"\b(schick|send)(e|en|t)? (\w+[ ']){0,5}zuruck\b|\btausch(e|en|t)? (\w+[ ']){0,5}um\b",
            r"\b(reembols|devolver|devolucion|devuelv|devolvi|desistimiento)",
            r"\b(rimbors|restituire|restituzione|il reso|un reso|fare reso|rendere (il|l'|la)|recesso)",
            r"\b(terugbetal|geld terug|retourneren|terugsturen|terug sturen|terugzenden|retourlabel|herroep|ruilen)",
            r"\b(reembols|devolver|devolucao|devolvi|estorno|dinheiro de volta|trocar (o|a|por))",
            r"\b(zwrot|zwroc|zwroce|odesla|odesle|wymian|odstapi)",
        ),
    ),
    (
        ("RETURN_OR_REFUND", MEDIUM, False),
        (
            r"\bretour\b|\bechange\b",
            r"\b(return|returned|returning|exchange)\b",
            r"\b(zuruck|ersatz)\b",
            r"\b(cambio|cambiarlo|cambiarla)\b",
            r"\b(reso|cambio)\b",
            r"\b(retour|terug)\b",
            r"\b(troca)\b",
            r"\b(reklamacj)",
        ),
    ),
    (
        ("DAMAGED_OR_WRONG_ITEM", MEDIUM, True),
        (
            r"\b(hs|wrong|falsch|falsche[nrs]?|zl[aey]|stuk|quebrad[oa]|popsut\w*|pas fonctionnel|arrived in pieces|en morceaux|in stucken|a pezzi|in stukken|em pedacos|w kawalkach)\b",
            r"\b(rayure|tache|trou|fuite|fuit|bug|panne|probleme (de|d'|avec) (la |le |l')?(batterie|ecran|son|produit|article|appareil|charge)|batterie (ne tient|hs|morte|gonfle)|non conforme)",
            r"\b(scratch|scratches|stain|bent|crack|issue with the (screen|battery|item|product)|problem with the (screen|battery|item|product)|poor condition|battery (dies|drains|is dead))",
            r"\b(kratzer|delle|riss|mangel|mangelhaft|akku (ist|halt)|problem mit (dem|der) (akku|display|bildschirm|produkt|artikel))",
            r"\b(aranazo|golpe|grieta|mancha|falla|averia|bateria (no dura|se descarga)|problema con (la|el) (bateria|pantalla|producto))",
            r"\b(graffi|crepa|macchi|difett|non conforme|batteria (non dura|si scarica)|problema con (la|il) (batteria|schermo|prodotto))",
            r"\b(kras|krassen|deuk|barst|scheur|vlek|accu (houdt|is leeg)|probleem met (de|het) (accu|scherm|product|batterij))",
            r"\b(risco|riscos|amolgadela|rachad|mancha|defeito|bateria (nao dura|descarrega)|problema com (a|o) (bateria|ecra|tela|produto))",
            r"\b(rysa|rysy|wgniecen|pekniec|plama|usterk|bateria (nie trzyma|szybko)|problem z (baterią|bateria|ekranem|produktem))",
        ),
    ),
    (
        ("DAMAGED_OR_WRONG_ITEM", STRONG, True),
        (
            r"\b(abime|endommage|casse|brise|defectueu|fissure|ecrase|raye|dechire|troue|cabosse|en panne|hors service|defaut de fabrication)",
            r"\b(mauvais(e)? (article|produit|modele|taille|couleur|colis|reference|pointure|coloris)|erreur de (produit|article|taille|couleur|reference))",
            r"\b(manquant|incomplet|piece manque|il manque|manque (un|une|des|la|le|l'))",
            r"\b(damaged|broken|cracked|defective|faulty|scratched|dented|smashed|shattered|torn|leaking|crushed)\b",
            r"\b(wrong (item|product|size|colou?r|model|one|order|version|parcel)|missing|incomplete)\b",
            r"\b(beschadigt|kaputt|defekt|zerbrochen|gebrochen|zerkratzt|zerdruckt|undicht|gerissen)",
            r"\b(falsche[nrs]? (artikel|ware|produkt|grosse|farbe|modell|lieferung|paket|teil)|falsch geliefert|fehlt|fehlen|fehlend|unvollstandig)",
            r"\b(danad|roto|rota|rotos|rotas|rompi|defectuos|rayad|golpead|averiad|abollad)",
            r"\b(equivocad|incorrect|falta(n|ba)?\b|incomplet)",
            r"\b(danneggiat|rott[oaie]\b|rompi|difettos|graffiat|ammaccat|guast)",
            r"\b(sbagliat|errat[oa]\b|manca(no|nte)?\b|incomplet)",
            r"\b(beschadigd|kapot|defect|gebroken|gekrast|gedeukt|lekt)\b",
            r"\b(verkeerd|ontbreekt|ontbreken|onvolledig)",
            r"\b(danificad|estragad|partid[oa]|avariad|defeituos|com defeito|riscad|amolgad|rachad)",
            r"\b(errad[oa]|em falta|incomplet|faltam?\b)",
            r"\b(uszkodz|zepsut|rozbit|pekniet|peknie|wadliw|porysowan|pogniecion|zniszczon)",
            r"\b(zl[ya] (produkt|rozmiar|kolor|towar|model)|niewlasciw|brak(uje)?\b|niekompletn|nie ten)",
        ),
    ),
    (
        ("DAMAGED_OR_WRONG_ITEM", STRONG, False),
        (
            r"(recu|received|got|bekommen|erhalten|geliefert|recibido|recibi|ricevuto|arrivato|ontvangen|gekregen|recebi|chegou|dostal\w*|otrzymal\w*|przyszl\w*)\b.{0,50}\b(au lieu d|a la place d|instead of|(an)?statt|en lugar de|en vez de|invece d|al posto d|in plaats van|em vez de|em lugar de|zamiast)",
            r"(pas|not|nicht|no|non|niet|nao|nie) (conforme|as described|wie beschrieben|como se describe|conforme|zoals beschreven|como descrito|zgodn\w* z opisem)",
            r"(ne (s'allume|charge|tient|demarre)|s'allume|se charge) (pas|plus)|(doesn't|does not|won't|will not|didn't) (turn on|power on|charge|hold (a )?charge|start)|dead on arrival",
            r"(geht|lasst sich) nicht (mehr )?(an|einschalten|laden)|ladt nicht|no (enciende|carga)|non (si accende|si carica|carica)|(gaat|doet) (het )?niet (meer )?(aan)|laadt niet|nao (liga|carrega)|nie (wlacza|laduje|dziala)",
            r"ne (fonctionne|marche|s'allume|charge) (pas|plus)|(fonctionne|marche) pas|ne correspond pas|pas (le bon|la bonne|celui|celle|ce que j'ai commande)",
            r"(doesn't|does not|don't|do not|won't|will not|isn't|is not|not) (work|working|turn on|switch on|charge|fit|match)|stopped working|not what i (ordered|bought)|not the (one|item|product|right)",
            r"funktioniert (nicht|kaum|nicht mehr)|geht nicht (an|mehr)|nicht (das|der|die) (bestellte|richtige)|nicht was ich bestellt",
            r"no funciona|no enciende|no es (el|lo) que (pedi|he pedido|compre)|no corresponde",
            r"non funziona|non si accende|non (e|corrisponde) (quello|a quello) (che ho ordinato)?|non corrisponde",
            r"werkt (niet|niet meer)|doet het niet|niet (wat|het product dat) ik (heb )?besteld",
            r"nao funciona|nao liga|nao (e|corresponde)( ao)? (o )?que (encomendei|pedi)",
            r"nie dziala|nie wlacza|nie (jest )?to,? co zamow|nie zgadza",
        ),
    ),
    (
        ("CANCELLATION", STRONG, False),
        (
            r"je n'en (veux|ai) plus|je ne (la |le |les )?(veux|souhaite) plus|(ne|pas) (l'|la |le |les )?(expedier|envoyer) (pas|plus)?|j'ai change d'avis|plus besoin",
            r"(no longer|don't|do not) (want|need) (it|this|the|my)|changed my mind|(don't|do not|please don't) (ship|send) (it|the|my)|stop (the|my) order",
            r"(brauche|will|mochte) (ich )?(es |ihn |sie |das )?nicht mehr|nicht (mehr )?(versenden|verschicken|schicken)|(es )?mir anders uberlegt",
            r"doch nicht (mehr )?(haben|kaufen|bestellen|brauchen)|(brauche|benotige) (ich )?(\w+[ ']){0,2}doch nicht|mir (\w+[ ']){1,2}anders uberlegt|nicht (mehr )?(liefern|ausliefern|abschicken|losschicken|rausschicken)",
            r"ya no (lo |la )?(quiero|necesito)|no (lo |la )?(envien|enviéis|mandeis|manden)|he cambiado de opinion|cambie de opinion",
            r"non (lo |la )?(voglio|mi serve) piu|non (spedite|inviate)|ho cambiato idea",
            r"(wil|hoef) ik (het |hem )?niet meer|niet (meer )?(verzenden|versturen|opsturen)|(heb ik|ik heb het) niet meer nodig|van gedachten veranderd",
            r"(ja )?nao (o |a )?(quero|preciso) mais|ja nao (o |a )?(quero|preciso)|nao (enviem|enviar|expedir)|mudei de ideia",
            r"nie (chce|potrzebuje) (juz|tego)|juz (nie chce|nie potrzebuje)|(prosze )?nie wysylac|zmienil(em|am) zdanie",
        ),
    ),
    (
        ("CANCELLATION", STRONG, True),
        (
            r"\b(annul|resilier)",
            r"\b(cancel)",
            r"\b(storn|abbestell|annullier|abbrech|ruckgangig|gecancel|zuruckzieh|zuruckzunehmen)",
            r"\bbrech(e|en|t)? (\w+[ ']){0,5}ab\b|\bbrich (\w+[ ']){0,5}ab\b|\bzieh(e|en)? (\w+[ ']){0,4}zuruck\b",
            r"\b(bestellung|auftrag|kauf) (\w+[ ']){0,3}(aufheben|loschen|widerrufen|ruckgangig)",
            r"\b(cancel|anular)",
            r"\b(annull|cancellare|cancellate|cancella l'ordine|disdire)",
            r"\b(annuleer|annulering|annuleren|bestelling (intrekken|afzeggen))",
            r"\b(cancel|anular)",
            r"\b(anul|rezygn|wycofa)",
        ),
    ),
    (
        ("INVOICE_REQUEST", STRONG, False),
        (
            r"\b(factur|justificatif d'achat|preuve d'achat)",
            r"\b(invoice|receipt|proof of purchase)",
            r"\b(rechnung|quittung|kaufbeleg|zahlungsbeleg)",
            r"\b(factura|recibo|comprobante de compra)",
            r"\b(fattur|ricevuta|scontrino|prova d'acquisto)",
            r"\b(factuur|facturen|kassabon|aankoopbewijs)",
            r"\b(fatura|factura|recibo|comprovativo de compra)",
            r"\b(faktur|paragon|rachunek|dowod zakupu)",
        ),
    ),
    (
        ("INVOICE_REQUEST", MEDIUM, False),
        (r"\b(tva|vat|mwst|mehrwertsteuer|ust-id|iva|btw|nif|nip|numero fiscal|siret)\b",),
    ),
    (
        ("PRODUCT_QUESTION", STRONG, True),
        (
            r"\b(compatible|avant (de (le |la )?(commander|acheter)|l'achat|achat)|est-(il|elle) (neuf|neuve|original|d'origine|compatible|disponible)|en stock|fourni avec|livre avec|mode d'emploi|notice)",
            r"\b(compatible|before (buying|ordering|i buy|i order|purchasing|i purchase)|in stock|does (it|this|the \w+) (come|work|have|include|fit)|is (it|this) (new|original|genuine|compatible|suitable|available)|come with|size guide)",
            r"\b(kompatibel|vor dem kauf|vor der bestellung|auf lager|lieferbar|lieferumfang|ist (es|das|der|die) (neu|original|kompatibel|geeignet)|funktioniert (es|das|der|die) (mit|auch)|passt (es|das|der|die) (auf|in|zu|fur))",
            r"\b(compatible|antes de (comprar|pedir|hacer el pedido)|en stock|hay stock|viene con|incluye|es (nuevo|original)|funciona con)",
            r"\b(compatibile|prima di (acquistare|ordinare|comprare)|disponibile|in magazzino|viene fornito|e (nuovo|originale)|funziona con)",
            r"\b(compatibel|geschikt voor|voordat ik (bestel|koop)|op voorraad|leverbaar|is (het|dit|deze) (nieuw|origineel)|werkt (het|dit|deze) (met|ook)|past (het|dit|deze))",
            r"\b(compativel|antes de (comprar|encomendar)|em stock|em estoque|vem com|e (novo|original)|funciona com)",
            r"\b(kompatybiln|pasuje do|przed (zakupem|zamowieniem|kupnem)|na stanie|dostepn|czy jest (nowy|nowa|oryginaln)|dziala z)",
        ),
    ),
    (
        ("PRODUCT_QUESTION", MEDIUM, False),
        (
            r"\b(avez-vous|vous l'avez|l'avez-vous|existe-t-il|existe en|dispo en|(est-ce qu')?il (fait|taille)|ca taille|taille (grand|petit)|est-ce que (ca|il|elle) (marche|fonctionne|va) (avec|sur|pour)|(fonctionne|marche)-t-(il|elle))",
            r"\b(do you have|do you sell|will (it|this) (fit|work)|can (it|this|i use)|does (it|this|the \w+) (fit|work|support|have|need)|is there a|what is the (size|weight|capacity|battery|warranty)|available in)",
            r"\b(gibt es|haben sie (das|den|die|es|noch)|ist (das|der|die|es) (auch )?(fur|mit|wasserdicht|spulmaschinenfest)|kann man|passt (das|der|die|es))",
            r"\b(tienen (el|la|este|esta)|hay (en|de) (talla|color|stock)|es apto|sirve para|viene en|se puede)",
            r"\b(avete (il|la|questo|questa|anche)|c'e (in|la|il)|e adatt|va bene per|si puo)",
            r"\b(hebben jullie|is er (een|ook)|is (het|dit|deze) geschikt|kan (ik|je|het) (het )?(gebruiken|wassen))",
            r"\b(tem (em|o|a|este|esta)|tem disponivel|serve para|e adequad|pode ser)",
            r"\b(czy (jest|sa) dostepn|czy macie|czy (nadaje|nada) sie|czy pasuje|czy (mozna|moge))",
        ),
    ),
    (
        ("PRODUCT_QUESTION", WEAK, True),
        (
            r"\b(taille|couleur|coloris|batterie|capacite|poids|matiere|tissu|etat|grade|reconditionn|neuf|chargeur|accessoire|pointure)",
            r"\b(size|colou?r|battery|capacity|weight|material|fabric|condition|refurbished|brand new|charger|accessor)",
            r"\b(grosse|farbe|akku|kapazitat|gewicht|material|stoff|zustand|generaluberholt|ladegerat|zubehor)",
            r"\b(talla|tamano|bateria|capacidad|peso|material|tela|estado|reacondicionad|cargador|accesorio)",
            r"\b(taglia|colore|batteria|capacita|peso|materiale|tessuto|condizion|ricondizionat|caricatore|accessori)",
            r"\b(maat|kleur|accu|batterij|capaciteit|gewicht|materiaal|stof|staat|refurbished|oplader|accessoire)",
            r"\b(tamanho|cor|bateria|capacidade|peso|material|tecido|estado|recondicionad|carregador|acessorio)",
            r"\b(rozmiar|kolor|bateri|pojemnosc|waga|material|stan|odnowion|ladowark|akcesori)",
            r"\b(je voudrais savoir si|j'aimerais savoir si|i'd like to know if|i would like to know if|ich (wollte|mochte) (fragen|wissen),? ob|quisiera saber si|vorrei sapere se|ik wil (graag )?weten of|gostaria de saber se|chcial(bym|abym) (wiedziec|zapytac),? czy)",
        ),
    ),
    (
        ("PRODUCT_QUESTION", MEDIUM, True),
        (
            r"\b(dimension|disponib|caracteristique|garantie|quelle (taille|couleur|version|capacite|pointure)|combien (de|mesure|pese)|poids|est-ce que (ce|cet|cette|le|la) (produit|article|modele))",
            r"\b(dimension|measurement|available|availability|warranty|guarantee|manual|instructions|specification|which (size|colou?r|version|model)|how (big|long|heavy|tall|wide|much does)|weight)",
            r"\b(abmessung|verfugbar|garantie|anleitung|welche (grosse|farbe|version)|wie (gross|lang|schwer|breit)|gewicht|geeignet)",
            r"\b(medidas|dimensiones|disponible|garantia|manual|instrucciones|que (talla|color|version|tamano)|cuanto (mide|pesa)|peso)\b",
            r"\b(misure|dimensioni|garanzia|manuale|istruzioni|quale (taglia|colore|versione)|quanto (misura|pesa)|peso)\b",
            r"\b(afmeting|beschikbaar|garantie|handleiding|welke (maat|kleur|versie)|hoe (groot|lang|zwaar)|gewicht|meegeleverd)",
            r"\b(medidas|dimensoes|disponivel|garantia|manual|instrucoes|qual (o )?(tamanho|cor|versao)|quanto (mede|pesa)|peso)\b",
            r"\b(wymiar|gwarancj|instrukcj|jaki (rozmiar|kolor)|ile (wazy|ma)|w zestawie|zawiera)",
        ),
    ),
    (
        # A buyer's mistake is a change to make, unless they ask to cancel: then it is the
        # reason for the cancellation ("ich habe mich vertan, bitte stornieren"), which
        # weighs as much and comes first at a tie.
        ("ORDER_CHANGE", STRONG, False),
        (
            r"je me suis trompe|j'ai (fait une erreur|commande (la|le|les) mauvais|commande par erreur)|erreur de (saisie|ma part)",
            r"i (made a mistake|ordered the wrong|accidentally ordered|picked the wrong|chose the wrong|selected the wrong)|my mistake|typo in (the|my) address",
            r"ich habe (mich (vertan|verklickt|geirrt)|(\w+[ ']){0,3}falsch(e|en)? (\w+[ ']){0,2}bestellt)|versehentlich bestellt",
            r"me (he )?equivoque|me confundi|pedi (la|el) (talla|color|modelo) (equivocad|incorrect)",
            r"ho sbagliato|ho ordinato (per errore|la taglia sbagliata|il colore sbagliato)",
            r"(ik )?heb me vergist|verkeerde (maat|kleur|versie) besteld|per ongeluk besteld",
            r"enganei-me|me enganei|encomendei (o|a) (tamanho|cor) errad",
            r"pomylil(em|am)|zamowil(em|am) (zly|zla|niewlasciw)",
        ),
    ),
    (
        ("ORDER_CHANGE", MEDIUM, True),
        (
            r"\b(a la place|plutot|remplacer (\w+[ ']){0,3}par|ajouter|point relais|adresse de livraison|livrer (a|chez) (\w+[ ']){0,2}(autre|mon travail|ma mere|mon bureau))",
            r"\b(instead|switch (it|to)|swap (it|for)|change it to|ship (it )?to (a|my) (different|new|other|work)|delivery address|shipping address)",
            r"\b(stattdessen|lieber|umandern|umbestellen|lieferadresse|an (eine|meine) andere adresse|an meine arbeit)",
            r"\b(anstatt|hinzufugen|dazubestellen|dazu bestellen|nachbestellen|packstation|abholstation|abstellort|liefertermin (\w+[ ']){0,2}(verschieben|andern)|anderen liefertermin|wunschtag|wunschtermin|lieferart|versandart|zusammenlegen|zusammenfassen|zusammen (versenden|verschicken|schicken|liefern)|getrennt (versenden|verschicken|liefern)|umleiten)",
            r"\b(beim|bei meinem|bei der|bei meiner) nachbar(n|in)? (abgeben|abstellen|lassen|hinterlegen)",
            r"\b(en su lugar|mejor (el|la)|en lugar de|en vez de|direccion de (entrega|envio)|enviar a otra)",
            r"\b(invece|al posto d|piuttosto|indirizzo di (consegna|spedizione)|spedire a un altro)",
            r"\b(liever|in plaats van|afleveradres|bezorgadres|leveradres|naar een ander adres)",
            r"\b(em vez d|em lugar d|morada de entrega|endereco de entrega|enviar para outr)",
            r"\b(zamiast|adres (dostawy|wysylki)|wyslac na inny|zmien)",
        ),
    ),
    (
        ("ORDER_CHANGE", MEDIUM, True),
        (
            r"\b(changer|modifier|change|modify|update|amend|andern|aendern|cambiar|modificar|cambiare|modificare|wijzigen|aanpassen|veranderen|alterar|mudar|zmienic|zmienic)\b",
        ),
    ),
    (
        ("ORDER_CHANGE", WEAK, True),
        (r"\b(adresse|address|anschrift|direccion|indirizzo|adres|morada|endereco)\b",),
    ),
    (
        ("ORDER_CHANGE", STRONG, True),
        (
            r"\b(changer|modifier|corriger|rectifier) (\w+[ ']){0,3}(adresse|commande|taille|couleur|quantite|pointure|point relais|coloris)",
            r"\b(changement|modification) (d'|de l'|de mon |de ma |de la )?(adresse|commande)|(nouvelle|autre|mauvaise) adresse|adresse (erronee|incorrecte)|erreur (dans|d'|de) (\w+ )?adresse",
            r"\b(change|modify|update|correct|amend|edit) (\w+[ ']){0,3}(address|order|size|colou?r|quantity)|(wrong|different|new|incorrect) (delivery |shipping )?address|add (\w+[ ']){0,3}to (my|the) order",
            r"\b(grosse|farbe|menge|anzahl|variante|lieferadresse|versandart|lieferart|hausnummer|postleitzahl|plz) (\w+[ ']){0,5}(andern|aendern|abandern|umandern|korrigieren|anpassen|umstellen)",
            r"\b(adresse|lieferadresse|bestellung|grosse|farbe|menge|anschrift) (\w+[ ']){0,2}(andern|aendern|korrigieren|anpassen)|(andern|korrigieren) (\w+[ ']){0,3}(adresse|lieferadresse|bestellung|grosse|farbe|menge)|(falsche|neue|andere) (liefer)?adresse|adressanderung",
            r"\b(cambiar|modificar|corregir) (\w+[ ']){0,3}(direccion|talla|color|pedido|cantidad)|direccion (incorrecta|equivocada|nueva|erronea)|otra direccion|anadir (\w+[ ']){0,3}(al )?pedido",
            r"\b(cambiare|modificare|correggere) (\w+[ ']){0,3}(indirizzo|ordine|taglia|colore|quantita)|indirizzo (sbagliato|errato|nuovo|diverso)|aggiungere (\w+[ ']){0,3}all'ordine",
            r"\b(adres|bestelling|maat|kleur|aantal) (\w+[ ']){0,2}(wijzigen|aanpassen|veranderen)|(wijzig|pas|verander) (\w+[ ']){0,3}(adres|bestelling|maat|kleur)|(verkeerd|ander|nieuw) (bezorg)?adres|adreswijziging",
            r"\b(alterar|mudar|modificar|corrigir) (\w+[ ']){0,3}(morada|endereco|encomenda|pedido|tamanho|cor|quantidade)|(morada|endereco) (errad[oa]|nov[oa]|incorret[oa])",
            r"\b(zmienic|zmiana|zmien|poprawic|edytowac) (\w+[ ']){0,3}(adres|zamowieni|rozmiar|kolor|ilosc)|(zly|nowy|inny|bledny) adres|dodac (\w+[ ']){0,3}do zamowienia",
        ),
    ),
)

# What NFKD does not take apart into ASCII and a mark (in lower case).
_FOLD_CHARACTERS: Final = {
    "ß": "ss",
    "ł": "l",
    "ø": "o",
    "œ": "oe",
    "æ": "ae",
    "’": "'",
    "ʼ": "'",
    "´": "'",
}
_FOLD: Final = str.maketrans(_FOLD_CHARACTERS)
# A word that turns the phrase after it into its opposite, in the languages read.
_NEGATION: Final = re.compile(
    r"\b(ne|n'|pas|jamais|aucun|sans|not|no|never|don't|dont|didn't|won't|without|nicht"
    r"|kein|keine|keinen|ohne|nunca|sin|non|mai|senza|niet|geen|nooit|zonder|nao|sem|nie|bez)\b"
    r"|n't\b"
)
# A buyer declining a refund, a return or a cancellation ("pas de remboursement", "don't
# want a refund", "nicht stornieren"), which the phrases' own negation does not cover:
# "pas été remboursé" asks for one, "pas de remboursement" declines it.
_REFUSAL: Final = re.compile(
    r"\b(ne (veux|voulons|demande|souhaite|cherche) (pas|plus|aucun)|pas (besoin|de|d'|un|une|question)"
    r"|(don't|dont|do not|didn't|won't) (want|need|ask)|no need|not (after|asking|looking|for)"
    r"|(will|mochte|brauche) (ich )?(keine|kein|nicht)|keine|keinen|nicht"
    r"|no (quiero|necesito|es para|me sirve|pido|hace falta)|non (voglio|chiedo|e per|serve|mi serve)"
    r"|niet om|ik wil (niks|geen|niet)|hoeft (niet|geen)|nao (quero|preciso|e para)"
    r"|nie (chce|potrzebuje|prosze o))\b"
)
REFUSAL_WORDS: Final = 8  # "je ne veux pas d'annulation ni de remboursement": 6 back
REFUSABLE: Final[frozenset[Subject]] = frozenset({"RETURN_OR_REFUND", "CANCELLATION"})
_BLANKS: Final = re.compile(r"[ \t]+")
_UNDECOMPOSED: Final = re.compile("[" + "".join(_FOLD_CHARACTERS) + "]")
_CLAUSE_END: Final = re.compile(r"[.,;:!?\n()]")
NEGATION_WORDS: Final = 4  # how far back, in words, a negation reaches


class _Phrase(NamedTuple):
    order: int  # the rules' order: at a word's start, the first phrase that matches counts
    pattern: re.Pattern[str]
    subject: Subject
    weight: int
    negatable: bool


# Phrases are looked up by a word's first four characters (a short word's with the space
# after it: "ma c" is not "mauv"): ~2 phrases tried a word, not ~15 at two characters.
PREFIX: Final = 4


def _phrases() -> tuple[list[_Phrase], dict[str, list[_Phrase]]]:
    """Every phrase, and each under the prefixes (``PREFIX`` characters or fewer: any
    continuation) a match of it can start with.

    One alternation of every phrase costs ~1.5 ms on a short message (each word's start
    tries ~160 of them); looked up by a word's first characters, a word tries a few."""
    phrases: list[_Phrase] = []
    by_prefix: dict[str, list[_Phrase]] = {}
    # The heavier phrase first: "changer l'adresse" is tried before "changer".
    ordered = sorted(_RULES, key=lambda rule: -rule[0][1])
    for (subject, weight, negatable), patterns in ordered:
        for pattern in patterns:
            phrase = _Phrase(len(phrases), re.compile(pattern), subject, weight, negatable)
            phrases.append(phrase)
            for prefix in {start for start, _ in _alternation(pattern)}:
                by_prefix.setdefault(prefix, []).append(phrase)
    return phrases, by_prefix


def _alternation(pattern: str) -> set[tuple[str, bool]]:
    """The starts of ``pattern``'s matches, as the rules write them (literals, groups,
    ``?``/``*``/``{0,n}``, ``\\b``; anything else is "any character"): each with whether
    it is final (``PREFIX`` long, or followed by anything) or open (the pattern ended)."""
    found: set[tuple[str, bool]] = set()
    for alternative in _top_level(pattern):
        found |= _sequence(alternative)
    return found


def _sequence(sequence: str) -> set[tuple[str, bool]]:
    final: set[tuple[str, bool]] = set()
    open_: set[str] = {""}
    at = 0
    while open_ and at < len(sequence):
        item, at = _item(sequence, at)
        grown: set[str] = set()
        for start in open_:
            for part, part_final in item:
                joined = start + part
                if len(joined) >= PREFIX or part_final:
                    final.add((joined[:PREFIX], True))
                else:
                    grown.add(joined)
        open_ = grown
    return final | {(start, False) for start in open_}


def _item(sequence: str, at: int) -> tuple[set[tuple[str, bool]], int]:
    """The starts of the item at ``at`` and where the next item begins."""
    char = sequence[at]
    if sequence.startswith("\\b", at):
        return {("", False)}, at + 2
    if char == "(":
        end = _closing(sequence, at)
        item, at = _alternation(sequence[at + 1 : end].removeprefix("?:")), end + 1
    elif char == "\\" or char in ".[":
        return {("", True)}, len(sequence)  # any character: the start is unknown from here
    else:
        item, at = {(char, False)}, at + 1
    quantifier = sequence[at : at + 1]
    if quantifier in ("?", "*") or sequence.startswith("{0", at):
        at = sequence.index("}", at) + 1 if quantifier == "{" else at + 1
        return item | {("", False)}, at
    if quantifier in ("+", "{"):
        return {(part, True) for part, _ in item}, len(sequence)
    return item, at


def _closing(sequence: str, at: int) -> int:
    depth = 0
    for index in range(at, len(sequence)):
        if sequence[index - 1 : index] == "\\":
            continue
        depth += (sequence[index] == "(") - (sequence[index] == ")")
        if depth == 0:
            return index
    raise ValueError(f"unbalanced group in {sequence!r}")


def _top_level(pattern: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(pattern):
        if pattern[index - 1 : index] == "\\":
            continue
        if char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
    return [*parts, pattern[start:]]


@functools.cache
def _compiled() -> tuple[list[_Phrase], dict[str, list[_Phrase]]]:
    """The phrases, compiled at first use (~40 ms): importing the taxonomy costs nothing."""
    return _phrases()


@functools.cache
def _phrase_starts() -> re.Pattern[str]:
    """Where a word starts (``\\b\\w``) with a prefix some phrase is filed under: the
    other words (most of a message) skipped in C, not each looked up in Python. The
    prefixes as a trie, one branch a character, so a word tries a few branches."""
    return re.compile(r"\b(?=\w)(?=" + _trie(set(_compiled()[1])) + ")")


def _trie(words: set[str]) -> str:
    """A regular expression matching where text begins with one of ``words``."""
    if "" in words:
        return ""  # one ends here: what follows it is anything
    rests: dict[str, set[str]] = {}
    for word in words:
        rests.setdefault(word[0], set()).add(word[1:])
    return "(?:" + "|".join(re.escape(c) + _trie(rest) for c, rest in sorted(rests.items())) + ")"


# A word's start: where a phrase may begin.
_WORD_START: Final = re.compile(r"\b\w")


@functools.lru_cache(maxsize=16384)
def _candidates(start: str) -> tuple[_Phrase, ...]:
    """The phrases that may match where a word starts with ``start``, in the rules' order."""
    by_prefix = _compiled()[1]
    found = {p for size in range(PREFIX + 1) for p in by_prefix.get(start[:size], ())}
    return tuple(sorted(found, key=lambda phrase: phrase.order))


def fold(text: str) -> str:
    """Lower case, accents off, blanks as single spaces except line ends."""
    # Decomposed, then ASCII only: accents go, and so does what no rule reads (emoji,
    # other scripts); in C, ~10× faster than dropping combining marks one by one. The
    # translation and the blanks' substitution only when there is something for them: each
    # costs more than the rest of the fold on a short message.
    lowered = text.lower()
    if _UNDECOMPOSED.search(lowered):
        lowered = lowered.translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = decomposed.encode("ascii", "ignore").decode("ascii")
    return _BLANKS.sub(" ", plain) if "  " in plain or "\t" in plain else plain


def _negated(text: str, start: int) -> bool:
    """Whether a negation stands among the few words before ``start``, in its clause."""
    before = text[max(0, start - 60) : start]
    clause = _CLAUSE_END.split(before)[-1]
    return bool(_NEGATION.search(" ".join(clause.split()[-NEGATION_WORDS:])))


def _refused(text: str, start: int) -> bool:
    """Whether the buyer declines what follows ("je ne veux pas d'annulation ni de
    remboursement", "no need to cancel", "keine Rücksendung"), among the words before
    ``start`` in its clause: a refund asked by "not refunded" stays asked."""
    before = text[max(0, start - 80) : start]
    clause = _CLAUSE_END.split(before)[-1]
    return bool(_REFUSAL.search(" ".join(clause.split()[-REFUSAL_WORDS:])))


def scores(words: str) -> dict[Subject, int]:
    """Each subject's weight in ``words`` (a buyer's own words), negated phrases left out.
    At each word's start the first phrase that matches counts, and the words it spans
    start no other."""
    return folded_scores(fold(words[:MAX_CHARS]))


def folded_scores(text: str) -> dict[Subject, int]:
    """``scores`` of words already folded and cut (``fold(words[:MAX_CHARS])``)."""
    weights: dict[Subject, int] = {}
    spanned = 0
    for word in _phrase_starts().finditer(text):
        at = word.start()
        if at < spanned:
            continue
        for phrase in _candidates(text[at : at + PREFIX]):
            match = phrase.pattern.match(text, at)
            if match is None:
                continue
            spanned = match.end()
            if not (phrase.negatable and _negated(text, at)) and not (
                phrase.subject in REFUSABLE and _refused(text, at)
            ):
                weights[phrase.subject] = weights.get(phrase.subject, 0) + phrase.weight
            break
    return weights


def subject_of(words: str) -> Subject:
    """The subject ``words`` weigh most for, or ``OTHER`` when none weighs ``MIN_SCORE``."""
    weights = scores(words)
    if not weights:
        return "OTHER"
    best = max(weights.values())
    if best < MIN_SCORE:
        return "OTHER"
    return next(s for s in PRIORITY if weights.get(s) == best)

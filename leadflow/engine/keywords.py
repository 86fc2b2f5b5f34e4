"""The SMS keywords carriers and Twilio honour, as one rule every path reaches: the provider
webhook, the HTTP API, the Python client and `leadflow simulate` all hand a reply to the
lead, whose engine reads it here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from leadflow.engine.channels import OptOutScope

Keyword = Literal["stop", "start", "help"]

WORDS: dict[Keyword, frozenset[str]] = {
    "stop": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    ),
    "start": frozenset({"START", "UNSTOP", "YES"}),
    "help": frozenset({"HELP", "INFO"}),
}
HELP_TEXT = "Reply STOP to stop texts, START to start them again."


def keyword(body: str) -> Keyword | None:
    """What a text means if it is one keyword alone (any case, surrounding space and
    punctuation ignored): " stop. " is STOP; "please stop" is a reply, not a keyword."""
    word = body.strip().strip(".!").strip().upper()
    return next((meaning for meaning, words in WORDS.items() if word in words), None)


# Consent may be revoked "by any reasonable means" (the FCC's 2024 rule), not only by a
# keyword: these say it plainly, and revoke at once...
_REVOKES = re.compile(
    r"\b(?:stop|quit|cease|no more)\s+(?P<stop>texting|texts?|messag(?:ing|es?)|sending"
    r"|contacting|calling|calls|emailing|emails|bothering)\b"
    r"|\b(?:take|remove|delete)\s+(?:me|my\s+(?:number|name|info))\s+(?:off|from)\b"
    r"|\bunsubscribe\b|\bopt\s*(?:me\s+)?out\b"
    r"|\b(?:do\s+not|don'?t|dont)\s+(?P<dont>text|contact|call|message|email)\b"
    r"|\blose\s+my\s+number\b|\bleave\s+me\s+alone\b",
    re.IGNORECASE,
)
# The channels the words name: "stop calling" is about calls; a plain "take me off your
# list" about texts and calls alike.
_NAMED: dict[str, tuple[str, ...]] = {
    "text": ("sms",), "message": ("sms",), "sending": ("sms",), "call": ("call",),
    "email": ("email",),
}  # fmt: skip
_PLAIN = ("sms", "call")
# ...and these may mean it: texts wait while a person reads the reply and decides.
_MAY_REVOKE = re.compile(r"\bnot\s+interested\b|\bwrong\s+number\b", re.IGNORECASE)
_SHORT = 5  # words: "stop it please" may mean STOP; a longer text using the word may not


def revoked_channels(body: str) -> list[str]:
    """The channels a plain revocation names ("stop calling me": calls), every match's."""
    found: set[str] = set()
    for match in _REVOKES.finditer(body):
        word = (match.group("stop") or match.group("dont") or "").lower()
        named = next((chs for stem, chs in _NAMED.items() if word.startswith(stem)), _PLAIN)
        found.update(named)
    return sorted(found)


def revocation(body: str) -> Literal["revokes", "may_revoke"] | None:
    """Whether a reply that is not a keyword revokes consent to texts ("please stop texting
    me", "take me off your list"), may revoke it ("not interested", "stop it please"), or
    neither ("Stop by at 5?")."""
    if _REVOKES.search(body):
        return "revokes"
    words = re.findall(r"[a-z']+", body.lower())
    stops = {w.lower() for w in WORDS["stop"]}
    edge = bool(words) and (words[0] in stops or words[-1] in stops)
    if _MAY_REVOKE.search(body) or (edge and len(words) <= _SHORT and words[:2] != ["stop", "by"]):
        return "may_revoke"
    return None


# The state-law table's second version on (`EngineState.law >= 2`): one rule for every
# channel, English, Spanish and French, accents and punctuation aside (the FCC's 2024 rule,
# 47 CFR 64.1200(a)(10)-(12): stop, quit, end, revoke, opt out, cancel, unsubscribe...).
StopMeaning = Literal["stop", "stop_all"]

STOP_WORDS = frozenset(
    (WORDS["stop"] - {"STOPALL"})
    | {"OPTOUT", "REMOVE", "REMOVEME", "UNSUBSCRIBEME"}
    | {"ALTO", "PARA", "PARAR", "DETENER", "CANCELAR", "BAJA", "DARDEBAJA", "DARMEDEBAJA"}
    | {"DESUSCRIBIR", "DESUSCRIBIRME", "FIN", "ARRET", "ARRETE", "ARRETER", "ARRETEZ"}
    | {"DESABONNER", "DESABONNEMENT", "DESINSCRIRE", "DESINSCRIPTION", "ANNULER"}
)
STOP_ALL_WORDS = frozenset({"STOPALL", "ALTOTODO", "ARRETTOUT", "ARRETERTOUT"})
# Said around a keyword, these leave it a keyword: "STOP please", "¡Alto, por favor!".
_FILLERS = frozenset(
    {"PLEASE", "PLS", "PLZ", "NOW", "IT", "THANKS", "THANK", "YOU", "THX", "TY", "OK", "OKAY"}
    | {"ALREADY", "ASAP", "POR", "FAVOR", "YA", "GRACIAS", "SVP", "MERCI", "S", "IL", "VOUS"}
    | {"PLAIT", "MAINTENANT"}
)


def fold(text: str) -> str:
    """The text as the rules read it: accents dropped ("Arrêt" is "Arret"), curly
    apostrophes straightened, runs of space made one."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(ascii_text.split())


def stop_keyword(body: str) -> StopMeaning | None:
    """An opt-out keyword, alone or with only courtesy around it, in any case, accents,
    spacing and punctuation aside: "Opt-out!", "¡ALTO!", "Arrêt", "STOP please" are stops;
    "STOP ALL" (or STOPALL) is a stop of every channel. "para mañana" is no keyword."""
    words = [w for w in re.findall(r"[A-Z0-9]+", fold(body).upper()) if w not in _FILLERS]
    said = "".join(dict.fromkeys(words))  # "STOP STOP" is STOP
    if said in STOP_ALL_WORDS:
        return "stop_all"
    return "stop" if said in STOP_WORDS else None


def own_words(email: str) -> str:
    """An email reply without the message it quotes ("> ...", "On ... wrote:" and what
    follows), whose footer may say "unsubscribe" without the lead saying it."""
    kept: list[str] = []
    for line in email.splitlines():
        if _QUOTE_STARTS.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept)


_QUOTE_STARTS = re.compile(
    r"\s*(?:-{2,}\s*(?:original message|message d'origine|mensaje original)"
    r"|on\s.*\swrote:|le\s.*\sa\s+[ée]crit\s*:|el\s.*\sescribi[óo]:|from:\s)",
    re.IGNORECASE,
)


_OBJECT = (
    r"(?:\s+(?:me|us|nos|any|more|mas|de|d'|les|vos|ces|these|the|your|all|tous|de\s+mas)\b)*"
    r"(?:\s*(?:texts?|messages?|sms|e-?mails?|calls?|mensajes?|textos?|correos?|llamadas?"
    r"|courriels?|appels?)\b)?"
)
_REVOKES_2 = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # English: "please stop texting me", "stop sending emails", "take me off your list"
        r"\b(?:stop|quit|cease|end|cancel|no\s+more)\s+(?:all\s+|the\s+|these\s+|your\s+|those\s+)?"
        r"(?:texting|texts?|messag\w*|sending|contacting|calling|calls|emailing|e-?mails"
        r"|bothering|sms|communications?)\b" + _OBJECT,
        r"\b(?:take|remove|delete)\s+(?:me|my\s+(?:number|name|info|email|phone))\s+(?:off|from)\b",
        r"\b(?:remove|delete)\s+me\b(?!\s+(?:as|to)\b)(?!\s+from\s+(?:the|my)\s+"
        r"(?:loan|application|account|title|policy|appointment|meeting|call)\b)",
        r"\b(?:unsubscribe|opt[\s_-]*(?:me\s+)?out)\b(?:\s+(?:me\s+)?(?:of|from)"
        r"(?:\s+(?:all|the|your|these|those))*\s+(?:texts?|messages?|sms|e-?mails?|calls?)\b)?"
        r"|\brevoke\s+(?:my\s+|all\s+)?consent\b",
        r"\b(?:do\s+not|don'?t|dont|never)\s+(?:text|contact|call|message|e-?mail|sms)(?:ing|s)?"
        r"\b" + _OBJECT,
        r"\blose\s+my\s+number\b|\bleave\s+me\s+alone\b",
        # Spanish: "no me envíes más mensajes", "no me llames", "deja de escribirme"
        r"\bno\s+(?:me|nos)\s+(?:vuelva[ns]?\s+a\s+)?(?:llam|contact|molest)\w*" + _OBJECT,
        r"\bno\s+(?:me|nos)\s+(?:vuelva[ns]?\s+a\s+)?(?:envi|mand|escrib|text)\w*\s+"
        r"(?:mas|nunca|nada|mensajes?|textos?|sms|correos?|e-?mails?)\b" + _OBJECT,
        r"\b(?:deja|dejen|deje|dejes|dejar|para|paren|pare|basta)\s+de\s+"
        r"(?:envi|mand|escrib|llam|contact|molest|text)\w*" + _OBJECT,
        r"\bno\s+(?:quiero|deseo)\s+(?:recibir\s+)?(?:mas\s+|ningun\w*\s+)?"
        r"(?:mensajes?|textos?|sms|correos?|e-?mails?|llamadas?)\b",
        r"\bno\s+mas\s+(?:mensajes?|textos?|sms|correos?|e-?mails?|llamadas?)\b",
        r"\b(?:dar|darme|darse|dame|denme|deme)\s+de\s+baja\b|\b(?:desuscrib|desinscrib)\w*",
        r"\b(?:sac|quit|borr|elimin)a(?:me|rme)?\s+de\s+(?:la|su|tu|sus|tus|esta|vuestra)\s+"
        r"lista\b",
        # French: "ne m'écrivez plus", "arrêtez les messages", "désabonnez-moi"
        r"\bne\s+(?:m'|me\s+|nous\s+)(?:re)?(?:ecri|envoy|appel|contact|telephon|text|derang)\w*"
        r"\s+plus\b" + _OBJECT,
        r"\b(?:arret|cess)\w*\s+(?:de\s+m'|de\s+me\s+|de\s+nous\s+|d'|de\s+|les\s+|vos\s+|ces\s+"
        r"|tous\s+les\s+)(?:envoy|ecri|appel|contact|telephon|messages?|sms|textos?|courriels?"
        r"|e-?mails?|derang)\w*" + _OBJECT,
        r"\bne\s+veux\s+plus\s+(?:recevoir\s+)?(?:de\s+|d'|vos\s+|les\s+|ces\s+)?"
        r"(?:messages?|sms|textos?|courriels?|e-?mails?|appels?)\b",
        r"\b(?:desabonn|desinscri)\w*|\b(?:retirez|supprimez|enlevez|rayez)[\s-]*moi\b"
        r"|\blaissez[\s-]*moi\s+tranquille\b",
    )
)
# What a revocation names: the thing ("mensajes", "emails") over the verb ("send me").
_NOUNS: dict[str, OptOutScope] = {
    **dict.fromkeys(
        ["text", "texts", "message", "messages", "sms", "mensaje", "mensajes", "texto", "textos"],
        "sms",
    ),
    **dict.fromkeys(
        ["email", "emails", "mail", "mails", "correo", "correos", "courriel", "courriels"], "email"
    ),
    **dict.fromkeys(["call", "calls", "llamada", "llamadas", "appel", "appels"], "call"),
}
_VERBS: tuple[tuple[str, OptOutScope], ...] = (
    ("text", "sms"), ("messag", "sms"), ("send", "sms"), ("envi", "sms"), ("mand", "sms"),
    ("escrib", "sms"), ("envoy", "sms"), ("ecri", "sms"), ("call", "call"), ("llam", "call"),
    ("appel", "call"), ("telephon", "call"), ("email", "email"), ("e-mail", "email"),
)  # fmt: skip
_SPECIFIC = frozenset({"text", "messag", "call", "llam", "appel", "telephon", "email", "e-mail"})
_MAY_REVOKE_2 = re.compile(
    r"\bnot\s+interested\b|\bno\s+me\s+interesa\b|\bno\s+estoy\s+interesad[oa]s?\b"
    r"|\bpas\s+interess|\bne\s+m'interesse\s+pas\b",
    re.IGNORECASE,
)
_WRONG_NUMBER = re.compile(
    r"\bwrong\s+(?:number|person|#)|\bnumero\s+(?:equivocado|incorrecto|erroneo)"
    r"|\bequivocado\s+de\s+numero|\bse\s+equivoc\w*\s+de\s+numero"
    r"|\b(?:mauvais|faux)\s+numero|\berreur\s+de\s+numero|\bpas\s+le\s+bon\s+numero",
    re.IGNORECASE,
)
_EDGE_WORDS = frozenset(
    {w.lower() for w in WORDS["stop"]} | {"detener", "desabonner", "desinscrire", "arretez"}
)
# An agent's note "don't call before 5" sets a time, not a revocation.
_SCHEDULING = re.compile(
    r"\s*(?:me\s+|him\s+|her\s+|them\s+|us\s+)?(?:before|after|until|till|til|during|between"
    r"|in\s+the|this|today|tonight|tomorrow|next|weekends?|mornings?|evenings?"
    r"|at\s+(?:\d|work|home|night|noon|lunch|dinner)|on\s+(?:\d|\w+days?\b|weekends?))\b",
    re.IGNORECASE,
)


_PLAIN_2: frozenset[OptOutScope] = frozenset({"sms", "call"})


def _arrived(channel: str) -> set[OptOutScope]:
    """An email that names no channel is about emails too."""
    return {"email"} if channel == "email" else set()


@dataclass(frozen=True)
class Reading:
    """What a reply (or an agent's note) says about consent, by the second table's rule."""

    revokes: tuple[OptOutScope, ...] = ()  # revoked at once: "sms", "call", "email"
    in_doubt: bool = False  # may mean it ("not interested"): a person decides
    wrong_number: bool = False  # the number may not be the lead's: calls wait too


def _named(matched: str) -> set[OptOutScope]:
    """The channels a match names: a verb that is one ("calling", "llames") over the thing
    ("emails", "mensajes") over a verb of sending ("send", "envíes"); none named, empty."""
    words = re.findall(r"[a-z-]+", matched.lower())
    verbs = [(ch, st in _SPECIFIC) for w in words for st, ch in _VERBS if w.startswith(st)]
    specific = {ch for ch, own in verbs if own}
    nouns = {_NOUNS[w] for w in words if w in _NOUNS}
    return specific or nouns or {ch for ch, _ in verbs}


def reading(body: str, channel: str = "sms", *, note: bool = False) -> Reading | None:
    """Whether words revoke consent at once (naming its channels: "no me llames" is calls;
    none named, texts and calls, and an email's own channel), may revoke it, or neither.
    `note`: an agent's note, read for plain requests only, a time it sets is no request."""
    text = fold(body)
    found: set[OptOutScope] = set()
    for pattern in _REVOKES_2:
        for match in pattern.finditer(text):
            if note and _SCHEDULING.match(text, match.end()):
                continue
            found |= _named(match.group()) or _PLAIN_2 | _arrived(channel)
    if note:
        return Reading(revokes=tuple(sorted(found))) if found else None
    wrong = bool(_WRONG_NUMBER.search(text))
    words = re.findall(r"[a-z']+", text.lower())
    edge = bool(words) and (words[0] in _EDGE_WORDS or words[-1] in _EDGE_WORDS)
    short_edge = edge and len(words) <= _SHORT and words[:2] != ["stop", "by"]
    doubt = wrong or bool(_MAY_REVOKE_2.search(text)) or short_edge
    if not found and not doubt:
        return None
    return Reading(revokes=tuple(sorted(found)), in_doubt=doubt and not found, wrong_number=wrong)

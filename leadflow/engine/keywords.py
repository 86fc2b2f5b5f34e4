"""The SMS keywords carriers and Twilio honour, as one rule every path reaches: the provider
webhook, the HTTP API, the Python client and `leadflow simulate` all hand a reply to the
lead, whose engine reads it here."""

from __future__ import annotations

import re
from typing import Literal

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

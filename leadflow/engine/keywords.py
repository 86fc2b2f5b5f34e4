"""The SMS keywords carriers and Twilio honour, as one rule every path reaches: the provider
webhook, the HTTP API, the Python client and `leadflow simulate` all hand a reply to the
lead, whose engine reads it here."""

from __future__ import annotations

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

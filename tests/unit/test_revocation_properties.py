"""After a revocation, whatever happens to the lead, nothing goes where consent was revoked
(hypothesis): random opt-out words and phrases, in any case, punctuation and accents, in
English, Spanish and French, by text or email; STOP ALL and Do Not Call end the calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.engine.commands import Command, Decision, InvalidChange
from leadflow.engine.decide import decide
from leadflow.engine.events import CallLogged, LeadCreated, OptedIn, ReplyReceived, TimerFired
from leadflow.engine.preview import sample_lead
from leadflow.engine.state import EngineState
from leadflow.playbook.schema import Playbook
from tests.unit.test_engine_properties import BOOKS, EXAMPLES, REGIONS, ZONES, _events, _materialise

WORDS = [
    *["STOP", "QUIT", "END", "REVOKE", "OPT OUT", "OPT-OUT", "OPTOUT", "CANCEL", "UNSUBSCRIBE"],
    *["REMOVE ME", "ALTO", "PARA", "PARAR", "DETENER", "CANCELAR", "BAJA", "ARRET", "ARRÊT"],
    *["ARRETER", "ARRÊTER", "ARRÊTEZ", "DESABONNER", "DÉSABONNER", "DESINSCRIRE", "DÉSINSCRIRE"],
]
STOP_ALL = ["STOP ALL", "STOPALL", "Stop-All"]
PHRASES = [
    "please stop texting me",
    "Stop sending me messages",
    "take me off your list",
    "unsubscribe me please",
    "I want to opt out",
    "don't text me again",
    "no me envíes más mensajes",
    "dejen de enviarme mensajes",
    "no quiero recibir más mensajes",
    "dame de baja",
    "ne m'écrivez plus",
    "arrêtez les messages",
    "je ne veux plus recevoir de messages",
    "désabonnez-moi svp",
]
FILLERS = ["", "please ", "por favor ", "svp ", "thanks "]
ENDS = ["", ".", "!", "!!!", " :(", "?"]
BOOKS_WITH_DNC = sorted(
    name
    for name, book in BOOKS.items()
    if any(re.fullmatch(r"do not call", d, re.IGNORECASE) for d in book.dispositions)
)


@st.composite
def _said(draw: st.DrawFn, words: list[str]) -> str:
    """A word or phrase as a person types it: any case, courtesy and punctuation around."""
    word = draw(st.sampled_from(words))
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    cased = "".join(c.lower() if flip else c.upper() for c, flip in zip(word, flips, strict=True))
    before = draw(st.sampled_from(["", " ", "¡", "\n", *FILLERS]))
    return f"{before}{cased}{draw(st.sampled_from(ENDS))}{draw(st.sampled_from(['', ' ']))}"


def _revocations() -> st.SearchStrategy[tuple[str, Any]]:
    """What revokes: (what it must end, the event)."""
    channel = st.sampled_from(["sms", "email"])
    texts = st.one_of(_said(WORDS), _said(PHRASES))
    return st.one_of(
        st.builds(lambda b, c: ("texts", ReplyReceived(channel=c, body=b)), texts, channel),
        st.builds(lambda b, c: ("all", ReplyReceived(channel=c, body=b)), _said(STOP_ALL), channel),
    )


def _decide(book: Playbook, state: EngineState, event: Any, now: datetime) -> Decision | None:
    try:
        return decide(book, state, event, now)
    except InvalidChange:  # a refused change changes nothing
        return None


@dataclass
class Lived:
    state: EngineState
    now: datetime
    commands: list[Command]


def _run(book: Playbook, state: EngineState, now: datetime, steps: Any) -> Lived:
    """Apply the steps (gap in minutes, event), waking the lead whenever it is due between
    them: where the lead ends, and every command the engine gave on the way, in order."""
    out: list[Command] = []
    for gap, raw in steps:
        target = now + timedelta(minutes=gap)
        while state.next_due is not None and state.next_due <= target:
            now = state.next_due
            decision = decide(book, state, TimerFired(), now)
            state, out = decision.state, out + decision.commands
        now = target
        found = _decide(book, state, _materialise(raw, now), now)
        if found is not None:
            state, out = found.state, out + found.commands
    return Lived(state, now, out)


def _before(book: Playbook) -> st.SearchStrategy[list[tuple[int, Any]]]:
    """Some of the lead's life before the revocation, for variety."""
    return st.lists(st.tuples(st.integers(0, 60 * 24 * 3), _events(book)), max_size=8)


def _afterwards(book: Playbook) -> st.SearchStrategy[list[tuple[int, Any]]]:
    """Anything but an opt-in (the one thing that may bring a channel back)."""
    events = _events(book).filter(lambda e: not isinstance(e, OptedIn))
    return st.lists(st.tuples(st.integers(0, 60 * 24 * 9), events), min_size=3, max_size=25)


def _lead(book: Playbook, zone: str, region: str | None, start: datetime) -> EngineState:
    state = sample_lead(book, time_zone=zone, region=region)
    return decide(book, state, LeadCreated(), start).state


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(BOOKS)),
    zone=st.sampled_from(ZONES),
    region=st.sampled_from(REGIONS),
    start_minutes=st.integers(0, 60 * 24 * 365),
    revoked=_revocations(),
    data=st.data(),
)
def test_after_a_revocation_no_text_goes_and_after_stop_all_no_call_is_queued(
    name: str,
    zone: str,
    region: str | None,
    start_minutes: int,
    revoked: tuple[str, ReplyReceived],
    data: st.DataObject,
) -> None:
    book = BOOKS[name]
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minutes)
    lived = _run(book, _lead(book, zone, region, now), now, data.draw(_before(book)))
    scope, reply = revoked
    decision = decide(book, lived.state, reply, lived.now)
    assert {"sms", "mms"} <= set(decision.state.opted_out), reply
    if scope == "all":
        assert "call" in decision.state.opted_out and decision.state.queue is None
    later = _run(book, decision.state, lived.now, data.draw(_afterwards(book)))
    after = decision.commands + later.commands
    texts = [c for c in after if c.kind == "send_message" and c.channel in ("sms", "mms")]
    assert not texts, (reply, texts)
    if scope == "all":
        assert not [c for c in after if c.kind in ("send_message", "queue_call")], reply


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(BOOKS_WITH_DNC),
    zone=st.sampled_from(ZONES),
    start_minutes=st.integers(0, 60 * 24 * 365),
    data=st.data(),
)
def test_after_do_not_call_no_call_is_queued(
    name: str, zone: str, start_minutes: int, data: st.DataObject
) -> None:
    book = BOOKS[name]
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minutes)
    lived = _run(book, _lead(book, zone, None, now), now, data.draw(_before(book)))
    decision = _decide(book, lived.state, CallLogged(disposition="Do Not Call"), lived.now)
    if decision is None:  # not a status the lead's milestone links: refused, nothing done
        return
    assert "call" in decision.state.opted_out
    later = _run(book, decision.state, lived.now, data.draw(_afterwards(book)))
    calls = [c for c in decision.commands + later.commands if c.kind == "queue_call"]
    assert not calls, calls

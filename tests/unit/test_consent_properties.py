"""A property over who may be solicited: leads drawn with and without consent (written or
not, marketing or informational, ended or not), inquiry and transaction dates, do-not-call
requests, list memberships and list ages over a year. The engine's half (the lists that
reach a touch, and why none holds it) with the moment of contact's half (`verdict`) never
let a solicitation reach a number the rules forbid, never stop one they allow, and every
stop names its list and its rule; a marketing text goes only with written consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.activities.listed import verdict
from leadflow.engine import consent
from leadflow.engine.events import ConsentRecorded, OptedOut, RelationshipDates
from leadflow.engine.run import Run
from leadflow.engine.state import ConsentHeld
from leadflow.store.dnc import STALE_AFTER_DAYS, Listing, ListSummary
from tests.engine_driver import Lead

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # 09:00 in Chicago: the lead comes in
LISTS = ["national", "state:IL"]  # what reaches a 312 number


def _months_ago(now: datetime, at: datetime, months: int) -> bool:
    """Whether `at` is less than `months` calendar months before `now` (the oracle's own
    arithmetic: by month and day, not the engine's helper)."""
    shifted_month = at.month - 1 + months
    year, month = at.year + shifted_month // 12, shifted_month % 12 + 1
    day = min(
        at.day, [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    )
    return now < at.replace(year=year, month=month, day=day)


consents = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["web_form", "certificate", "signature", "recorded_call", "reply"]),
        st.sampled_from(["marketing", "informational"]),
        st.sampled_from([("sms",), ("call",), ("sms", "call"), ("email",)]),
        st.booleans(),  # ended by a revocation of something else it covers
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    later=st.integers(0, 365),  # days after the lead came in that the touch is decided
    inquiry=st.one_of(st.none(), st.integers(0, 365)),  # days before the touch, if restated
    transaction=st.one_of(st.none(), st.integers(0, 800)),
    given_consent=consents,
    dnc_request=st.booleans(),
    channel=st.sampled_from(["sms", "call"]),
    membership=st.sets(st.sampled_from(LISTS)),
    ages=st.fixed_dictionaries({name: st.one_of(st.none(), st.integers(0, 60)) for name in LISTS}),
)
def test_no_solicitation_reaches_a_number_the_rules_forbid_and_every_stop_names_its_rule(
    later: int,
    inquiry: int | None,
    transaction: int | None,
    given_consent: tuple[str, str, tuple[str, ...], bool] | None,
    dnc_request: bool,
    channel: str,
    membership: set[str],
    ages: dict[str, int | None],
) -> None:
    lead = Lead.create("isa", START, consents=[])
    now = START + timedelta(days=later)
    if inquiry is not None or transaction is not None:
        lead.send(
            RelationshipDates(
                inquired_at=now - timedelta(days=inquiry) if inquiry is not None else None,
                transacted_at=now - timedelta(days=transaction)
                if transaction is not None
                else None,
            )
        )
    if given_consent is not None:
        means, scope, channels, ended = given_consent
        held = ConsentHeld.model_validate(
            {
                "id": "c1",
                "party": "borrower",
                "channels": list(channels),
                "scope": scope,
                "given_at": START - timedelta(days=1),
                "means": means,
            }
        )
        lead.send(ConsentRecorded(consent=held))
        if ended:
            lead.send(
                OptedOut(channel="email" if channels == ("email",) else channels[0], source="x")
            )
    if dnc_request:
        lead.send(OptedOut(channel="call", source="disposition Do Not Call"))
    party = lead.state.parties["borrower"]
    run = Run(lead.book, lead.state, now)
    names, exempt = consent.lists(run, "borrower", party, channel)
    assert names == LISTS

    today = now.date()
    summaries = {
        name: ListSummary(
            name, today - timedelta(days=age), now, 1, "", age, age > STALE_AFTER_DAYS
        )
        for name, age in ages.items()
        if age is not None
    }
    on = {
        name: Listing(name, summaries[name].as_of, summaries[name].age_days, summaries[name].stale)
        for name in membership
        if name in summaries
    }
    stopped = None if exempt is not None else verdict(names, on, summaries)

    # The rules, stated apart from the code.
    s = lead.state
    # A do-not-call request is an opt-out of calls: it ends the relationship for texts and
    # calls alike (texts are calls under the TCPA), and every consent that covers calls.
    requested = dnc_request or (
        given_consent is not None and given_consent[3] and given_consent[2][0] == "call"
    )
    written = (
        given_consent is not None
        and given_consent[0] in ("web_form", "certificate", "signature")
        and given_consent[1] == "marketing"
        and channel in given_consent[2]
        and not given_consent[3]
        and not (dnc_request and "call" in given_consent[2])
    )
    relationship = not requested and (
        (s.inquired_at is not None and _months_ago(now, s.inquired_at, 3))
        or (s.transacted_at is not None and _months_ago(now, s.transacted_at, 18))
    )
    reachable = [n for n in LISTS if n in summaries]
    held_by_list = any(summaries[n].stale or (n in membership) for n in reachable)
    forbidden = not written and not relationship and held_by_list
    assert (stopped is not None) == forbidden, (stopped, exempt, s.inquired_at, s.transacted_at)
    if stopped is not None:
        assert (
            "Registry" in stopped or "IL's do-not-call list" in stopped
        ) and "64.1200" in stopped
    # And a marketing text needs the party's written consent on record, lists or not.
    if channel == "sms":
        unwritten = consent.unwritten(run, "borrower", party, "sms", "intro_sms")
        assert (unwritten is None) == written, unwritten
        assert unwritten is None or "64.1200(a)(2)" in unwritten

"""An agent's own text or email through the engine: it goes at once inside the lead's
calling hours, from the agent as the lead knows them; at 21:30 in the lead's zone, or to a
party who opted out, it is refused with why and nothing changes; each campaign's
`on_agent_message` says whether it goes on, pauses or stops."""

from __future__ import annotations

from datetime import date, time

import pytest

from leadflow.engine.commands import InvalidChange, SendMessage
from leadflow.engine.events import AgentWrote, OptedOut
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Campaign, Playbook
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
T0 = local(MONDAY, time(10))


def _wrote(key: str = "message:r1", channel: str = "sms", actor: str = "isa") -> AgentWrote:
    return AgentWrote(
        key=key, channel=channel, party="borrower", body="Hi, it's Ivy: does 5pm work?",
        subject="Your rate" if channel == "email" else None, actor=actor,
    )  # fmt: skip


def _with(effect: str) -> Playbook:
    book = default_playbook("isa")
    changed = {
        n: c.model_copy(update={"on_agent_message": effect}) for n, c in book.campaigns.items()
    }
    return book.model_copy(update={"campaigns": changed})


def test_an_agents_text_goes_at_once_from_the_agent_the_lead_knows() -> None:
    lead = Lead.create("isa", T0)
    before = len(lead.state.touches)
    commands = lead.send(_wrote(), at=local(MONDAY, time(11)))
    [sent] = [c for c in commands if isinstance(c, SendMessage)]
    assert (sent.key, sent.channel, sent.to, sent.template) == (
        "message:r1", "sms", lead.state.parties["borrower"].phone, "agent",
    )  # fmt: skip
    assert sent.body == "Hi, it's Ivy: does 5pm work?" and sent.sender.id == "isa"
    assert sent.send_by is not None and sent.send_by > lead.now  # the window it was sent in
    assert len(lead.state.touches) == before + 1  # it counts towards the caps
    email = [c for c in lead.send(_wrote("message:r2", "email")) if isinstance(c, SendMessage)]
    assert [(m.channel, m.subject) for m in email] == [("email", "Your rate")]


def test_at_half_past_nine_in_the_evening_it_is_refused_with_when_it_may_go() -> None:
    lead = Lead.create("isa", T0)
    lead.run_until(local(MONDAY, time(21, 30)))
    state = lead.state
    with pytest.raises(InvalidChange, match=r"not sent now: .*it may go from Tue 0[89]:00"):
        lead.send(_wrote())
    assert lead.state is state  # nothing changed


def test_a_party_who_opted_out_of_texts_is_not_texted_by_an_agent_either() -> None:
    lead = Lead.create("isa", T0)
    lead.send(OptedOut(channel="sms", source="reply STOP"))
    with pytest.raises(InvalidChange, match="not sent: borrower opted out of sms"):
        lead.send(_wrote())


@pytest.mark.parametrize("effect", ["continue", "pause", "stop"])
def test_each_campaign_goes_on_pauses_or_stops_as_the_playbook_says(effect: str) -> None:
    lead = Lead.create(_with(effect), T0)
    running = dict(lead.state.campaigns)
    assert running  # the isa playbook enrols a new lead
    at = local(MONDAY, time(11))
    lead.send(_wrote(), at=at)
    after = lead.state.campaigns
    if effect == "continue":
        assert set(after) == set(running) and all(c.paused_at is None for c in after.values())
    elif effect == "pause":
        assert set(after) == set(running) and all(c.paused_at == at for c in after.values())
    else:
        assert after == {}


def test_a_campaign_that_goes_on_keeps_the_json_it_had() -> None:
    campaign = next(iter(default_playbook("isa").campaigns.values()))
    assert "on_agent_message" not in campaign.model_dump()
    paused = campaign.model_copy(update={"on_agent_message": "pause"})
    assert Campaign.model_validate(paused.model_dump()).on_agent_message == "pause"

"""A running lead moved to a newer version of its playbook, through the engine: it goes on
from where it is, sends nothing twice, sends changed steps in their new form, stops removed
campaigns, and is refused when the new version cannot hold it."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from leadflow.engine.commands import InvalidChange
from leadflow.engine.events import PlaybookChanged
from leadflow.engine.migrate import keeps_past_steps
from leadflow.engine.preview import migration
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Playbook
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
NEW_WORDING = "Hi {{ lead.first_name }}, version two here: is now a better time?"


def version_two(**changes: object) -> Playbook:
    book = default_playbook("isa")
    templates = dict(book.templates)
    templates["missed_you_sms"] = templates["missed_you_sms"].model_copy(
        update={"body": NEW_WORDING}
    )
    return book.model_copy(update={"version": 2, "templates": templates, **changes})


def move(lead: Lead, book: Playbook) -> None:
    lead.book = book
    lead.send(PlaybookChanged(version=book.version))


def sent(lead: Lead) -> list[str]:
    return [m.template for m in lead.messages()]


def test_a_lead_goes_on_from_its_step_and_sends_changed_steps_in_their_new_form() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.run_until(local(MONDAY, time(12)))
    assert sent(lead) == ["intro_sms", "intro_email"]
    move(lead, version_two())
    assert lead.state.playbook_version == 2
    (moved,) = [a for a in lead.audits("note") if a.key == "playbook:2"]
    assert "moved from version 1 to 2" in moved.reason
    assert "isa_touches from step 3" in moved.reason
    assert lead.commands("set_playbook")[0].version == 2
    lead.run_until(local(MONDAY + timedelta(days=2), time(9)))
    assert sent(lead) == ["intro_sms", "intro_email", "missed_you_sms"]  # nothing twice
    (missed,) = [m for m in lead.messages() if m.template == "missed_you_sms"]
    assert "version two here" in missed.body


def test_a_campaign_the_new_version_lacks_stops() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    book = version_two()
    campaigns = {n: c for n, c in book.campaigns.items() if n != "isa_touches"}
    on_new = [a for a in book.on_new_lead if a.campaign != "isa_touches"]
    move(lead, book.model_copy(update={"campaigns": campaigns, "on_new_lead": on_new}))
    stopped = [a for a in lead.audits("stopped") if a.key.startswith("campaign:isa_touches")]
    assert stopped and "not in version 2" in stopped[0].reason
    assert "isa_touches" not in lead.state.campaigns
    lead.run_for(timedelta(days=5))
    assert sent(lead) == ["intro_sms", "intro_email"]


def test_a_waiting_touch_whose_template_is_gone_is_dropped() -> None:
    lead = Lead.create("isa", local(MONDAY, time(22)))  # the intro waits for the morning
    book = version_two()
    templates = {n: t for n, t in book.templates.items() if n != "intro_sms"}
    steps = book.campaigns["isa_touches"].steps
    steps = [
        s.model_copy(update={"template": "missed_you_sms"}) if s.template == "intro_sms" else s
        for s in steps
    ]
    campaign = book.campaigns["isa_touches"].model_copy(update={"steps": steps})
    move(
        lead,
        book.model_copy(
            update={
                "templates": templates,
                "campaigns": {**book.campaigns, "isa_touches": campaign},
            }
        ),
    )
    dropped = [a for a in lead.audits("skipped") if "intro_sms is not in version 2" in a.reason]
    assert dropped
    lead.run_for(timedelta(hours=12))
    assert "intro_sms" not in sent(lead)


def test_a_lead_the_new_version_cannot_hold_is_refused_and_unchanged() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    book = version_two()
    links = {
        m: [s for s in statuses if s != lead.state.status] for m, statuses in book.links.items()
    }
    before = lead.state
    with pytest.raises(InvalidChange) as refused:
        move(lead, book.model_copy(update={"links": links}))
    assert refused.value.reason == "MigrationRefused"
    assert "version 2 cannot hold this lead" in str(refused.value)
    assert lead.state == before


def test_a_migration_only_goes_forward() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    with pytest.raises(InvalidChange) as refused:
        move(lead, default_playbook("isa"))
    assert refused.value.reason == "NotNewer"


def test_the_preview_shows_the_next_touches_before_and_after() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.run_until(local(MONDAY, time(12)))
    book = version_two()
    campaigns = {n: c for n, c in book.campaigns.items() if n != "isa_call_campaign"}
    on_new = [a for a in book.on_new_lead if a.campaign != "isa_call_campaign"]
    new = book.model_copy(update={"campaigns": campaigns, "on_new_lead": on_new})
    found = migration(lead.book, new, lead.state, lead.now, days=10)
    assert found.refused is None and found.from_version == 1
    assert found.stopped == ["isa_call_campaign"] and found.going_on == ["isa_touches"]
    assert any(e.command.kind == "queue_call" for e in found.before)
    assert not any(e.command.kind == "queue_call" for e in found.after)
    after = [e.command for e in found.after if e.command.kind == "send_message"]
    assert after[0].template == "missed_you_sms" and "version two here" in after[0].body
    assert lead.state.playbook_version == 1  # a preview changes nothing


def test_a_version_that_moves_steps_already_past_is_refused() -> None:
    """Going on by position is only safe when the steps before the lead's are as they were:
    a step inserted ahead of it would send a step again."""
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.run_until(local(MONDAY, time(12)))
    book = version_two()
    spec = book.campaigns["isa_touches"]
    inserted = [spec.steps[0], spec.steps[0], *spec.steps[1:]]
    campaign = spec.model_copy(update={"steps": inserted})
    new = book.model_copy(update={"campaigns": {**book.campaigns, "isa_touches": campaign}})
    with pytest.raises(InvalidChange, match="changes campaign isa_touches's steps before"):
        keeps_past_steps(lead.book, new, lead.state)
    found = migration(lead.book, new, lead.state, lead.now, days=10)
    assert found.refused and "would send a step again or skip one" in found.refused
    keeps_past_steps(lead.book, version_two(), lead.state)  # content changed only: fine

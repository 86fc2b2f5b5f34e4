"""A playbook's `spread`: each lead's fixed-time steps and the openings of its window come
an offset of its own later (whole minutes, under the spread), the same on every decision,
never earlier than the written time; without a spread, nothing moves."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta
from pathlib import Path

from leadflow.engine.preview import sample_lead
from leadflow.engine.refs import LeadRef
from leadflow.engine.spread import offset
from leadflow.playbook.load import default_playbook, load_playbook
from leadflow.playbook.schema import Playbook
from tests.engine_driver import Lead, local
from tests.unit.test_playbooks import PLAYBOOKS, _leadflow

MONDAY = date(2026, 3, 2)
SPREAD = timedelta(minutes=15)


def spread(book: Playbook, by: timedelta | None = SPREAD) -> Playbook:
    return book.model_copy(update={"spread": by})


def lead(n: int) -> LeadRef:
    return LeadRef(account_id="acme", lead_id=f"L-{n}")


def test_each_lead_has_its_own_whole_minute_offset_spread_evenly() -> None:
    book = spread(default_playbook("isa"))
    offsets = [offset(book, lead(n)) for n in range(1500)]
    assert all(o % timedelta(minutes=1) == timedelta(0) for o in offsets)
    by_minute = Counter(int(o.total_seconds() // 60) for o in offsets)
    assert sorted(by_minute) == list(range(15))  # every minute of the spread is used
    assert all(60 <= n <= 140 for n in by_minute.values()), by_minute  # about 100 each
    assert [offset(book, lead(n)) for n in range(1500)] == offsets  # always the same
    assert offset(default_playbook("isa"), lead(1)) == timedelta(0)  # no spread: none


def _texts_at(book: Playbook, who: LeadRef, template: str, days: int = 2) -> list[object]:
    created = Lead.create(book, local(MONDAY, time(10)), lead=who)
    created.run_for(timedelta(days=days))
    return [s.at for s in created.log if getattr(s.command, "template", None) == template]


def test_a_fixed_time_step_comes_its_leads_offset_after_the_written_time() -> None:
    book = default_playbook("isa")  # day 1 "at 10:30": missed_you_sms
    written = local(MONDAY + timedelta(days=1), time(10, 30))
    assert _texts_at(book, lead(0), "missed_you_sms") == [written]
    seen = set()
    for n in range(12):
        [at] = _texts_at(spread(book), lead(n), "missed_you_sms")
        assert at == written + offset(spread(book), lead(n))
        assert written <= at < written + SPREAD
        seen.add(at)
    assert len(seen) > 5  # the leads no longer all wake at 10:30


def test_a_window_opening_comes_later_by_the_offset_and_never_before_it_opens() -> None:
    """A lead in at 22:30 waits for the morning: 08:00 plus its own offset."""
    book = default_playbook("isa")  # the intro text goes at once, when the window allows
    opening = local(MONDAY + timedelta(days=1), time(8))
    for n in range(12):
        late = Lead.create(spread(book), local(MONDAY, time(22, 30)), lead=lead(n))
        late.run_for(timedelta(hours=12))
        [at] = [s.at for s in late.log if getattr(s.command, "template", None) == "intro_sms"]
        assert at == opening + offset(spread(book), lead(n))
        assert opening <= at < opening + SPREAD
    plain = Lead.create(book, local(MONDAY, time(22, 30)), lead=lead(0))
    plain.run_for(timedelta(hours=12))
    [at] = [s.at for s in plain.log if getattr(s.command, "template", None) == "intro_sms"]
    assert at == opening


def test_preview_states_the_spread_and_the_sample_leads_offset(tmp_path: Path) -> None:
    source = (PLAYBOOKS / "isa.yaml").read_text()
    file = tmp_path / "isa.yaml"
    file.write_text(source.replace("\nversion: 1\n", "\nversion: 1\nspread: 15m\n", 1))
    result = _leadflow(
        "playbook", "preview", str(file), "--days", "2", "--start", "2026-03-02T10:00-06:00"
    )
    assert result.returncode == 0, result.stderr
    later = offset(load_playbook(file), sample_lead(load_playbook(file)).lead)
    minutes = int(later.total_seconds() // 60)
    said = " ".join(result.stdout.split())
    assert "fixed times and window openings come 0-14 min later" in said
    assert f"(this one: +{minutes} min)" in said
    assert f"10:{30 + minutes:02d}" in said  # day 1's 10:30 text, at the sample's minute

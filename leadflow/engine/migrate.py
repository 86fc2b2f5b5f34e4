"""Moving a running lead to a newer version of its playbook, between two decisions.

What was sent stays sent: a running campaign goes on from its current step under the new
version's steps (a step whose content changed is sent in its new form; a step already past
is never sent again), a campaign the new version no longer has stops, and a waiting touch
or date rule whose template or rule is gone is dropped, each with a line in the audit. A
lead whose milestone and status the new version no longer links is refused, not moved.
`leadflow.engine.preview.migration` says, for one lead, what its next touches were and
become.
"""

from __future__ import annotations

from leadflow.engine import campaigns, statuses
from leadflow.engine.commands import InvalidChange, SetPlaybook
from leadflow.engine.events import PlaybookChanged
from leadflow.engine.run import Run, history
from leadflow.engine.state import EngineState
from leadflow.playbook.schema import Playbook


def keeps_past_steps(old: Playbook, new: Playbook, state: EngineState) -> None:
    """Refuse a version that changed a running campaign's steps before the lead's current
    one (inserted, removed, reordered or moved in time): going on by position would send a
    step again or skip one. Content may change; what was sent stays sent."""
    if old is new:  # not a migration
        return
    for name, campaign in sorted(state.campaigns.items()):
        if name not in old.campaigns or name not in new.campaigns:
            continue
        before = [(s.do, s.after, s.at) for s in old.campaigns[name].steps[: campaign.next_step]]
        after = [(s.do, s.after, s.at) for s in new.campaigns[name].steps[: campaign.next_step]]
        if before != after:
            raise InvalidChange(
                f"version {new.version} changes campaign {name}'s steps before this lead's "
                f"step {campaign.next_step + 1}: it would send a step again or skip one; "
                "change later steps only, or stop the campaign and start it anew",
                "MigrationRefused",
            )


def playbook_changed(run: Run, event: PlaybookChanged) -> None:
    s, book = run.s, run.book
    if book.name != s.playbook or event.version != book.version:
        raise InvalidChange(
            f"this lead runs playbook {s.playbook!r}, not {book.name!r} version {event.version}",
            "WrongPlaybook",
        )
    if book.version <= s.playbook_version:
        raise InvalidChange(
            f"the lead is on version {s.playbook_version} already; a migration only goes "
            "to a newer version",
            "NotNewer",
        )
    try:
        statuses.check_combination(book, s.milestone, s.status)
    except InvalidChange as exc:
        raise InvalidChange(
            f"version {book.version} cannot hold this lead: {exc}", "MigrationRefused"
        ) from None
    before = s.playbook_version
    for name in sorted(s.campaigns):
        if name not in book.campaigns:
            campaigns.stop_campaign(run, name, f"not in version {book.version}")
    rules = {rule.name for rule in book.date_rules}
    kept = []
    for item in s.agenda:
        gone = None
        if item.touch is not None and item.touch.template not in book.templates:
            gone = f"template {item.touch.template} is not in version {book.version}"
        elif item.kind == "date_rule" and item.rule not in rules:
            gone = f"date rule {item.rule} is not in version {book.version}"
        if gone is None:
            kept.append(item)
        else:
            run.audit(item.key, "skipped", gone)
    s.agenda = kept
    s.playbook_version = book.version
    run.emit(SetPlaybook(name=book.name, version=book.version))
    going = ", ".join(f"{n} from step {c.next_step + 1}" for n, c in sorted(s.campaigns.items()))
    moved = f"moved from version {before} to {book.version} by {event.actor}"
    run.audit(f"playbook:{book.version}", "note", f"{moved}; going on: {going or 'no campaign'}")
    history(run, "Playbook", f"Playbook {book.name} version {before} → {book.version}", event.actor)

"""Cross-references inside a playbook: every name it uses must be one it defines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from leadflow.playbook import law, routing
from leadflow.playbook.durations import format_duration
from leadflow.playbook.identity import email_warnings, first_text_warnings
from leadflow.playbook.schema import Action, Playbook, Sender, Step
from leadflow.playbook.templates import TemplateProblem, render, sample_contexts, text_problem

Problem = tuple[str, str]  # (path inside the file, what is wrong)


def problems(book: Playbook) -> list[Problem]:
    return list(_problems(book))


def warnings(book: Playbook) -> list[Problem]:
    """What `leadflow playbook check` warns of without refusing the playbook."""
    return first_text_warnings(book) + email_warnings(book)


def _duplicates(path: str, names: list[str]) -> Iterator[Problem]:
    for name, count in Counter(names).items():
        if count > 1:
            yield path, f"duplicate name {name!r}"


MAX_VERSION = 2**31 - 1  # a version is stored as a PostgreSQL integer


def _problems(book: Playbook) -> Iterator[Problem]:
    milestones, statuses = set(book.milestones), {s.name for s in book.statuses}
    if book.routing is not None:
        yield from routing.problems(book.routing, book.designations, sorted(statuses))
    if book.version > MAX_VERSION:
        yield "version", f"{book.version} is past the highest version, {MAX_VERSION}"
    for path, names in (
        ("actions", book.actions),
        ("milestones", book.milestones),
        ("statuses", [s.name for s in book.statuses]),
        ("parties", book.parties),
        ("designations", book.designations),
        ("key_dates", book.key_dates),
        ("follow_ups.subjects", book.follow_ups.subjects),
        ("date_rules", [rule.name for rule in book.date_rules]),
    ):
        yield from _duplicates(path, names)

    for milestone, allowed in book.links.items():
        if milestone not in milestones:
            yield f"links.{milestone}", f"unknown milestone {milestone!r}"
        for i, status in enumerate(allowed):
            if status not in statuses:
                yield f"links.{milestone}[{i}]", f"unknown status {status!r}"
    if (logged := book.logged_text) is not None:
        for path, status in [("status", logged.status)] + [
            (f"moves_from[{i}]", name) for i, name in enumerate(logged.moves_from)
        ]:
            if status not in statuses:
                yield f"logged_text.{path}", f"unknown status {status!r}"
    unknown = book.unknown_senders
    if unknown is not None and unknown.party is not None and unknown.party not in book.parties:
        yield "unknown_senders.party", f"unknown party {unknown.party!r}"
    if book.conversion is not None:
        for i, milestone in enumerate(book.conversion.milestones):
            if milestone not in milestones:
                yield f"conversion.milestones[{i}]", f"unknown milestone {milestone!r}"
        for i, status in enumerate(book.conversion.statuses):
            if status not in statuses:
                yield f"conversion.statuses[{i}]", f"unknown status {status!r}"
    for milestone in book.milestones:
        if milestone not in book.links:
            yield (
                "links",
                f"milestone {milestone!r} has no links: list the statuses allowed with it",
            )

    yield from _combination(book, "defaults", book.defaults.milestone, book.defaults.status)
    yield from _sender(book, "defaults.sender", book.defaults.sender)
    for user_id in book.users:
        if user_id in book.designations:
            yield f"users.{user_id}", "a user id must not equal a designation name"

    for i, action in enumerate(book.on_new_lead):
        yield from _action(book, f"on_new_lead[{i}]", action)
    for milestone, flow in book.milestone_actions.items():
        base = f"milestone_actions.{milestone}"
        if milestone not in milestones:
            yield base, f"unknown milestone {milestone!r}"
        for i, action in enumerate(flow.actions):
            yield from _action(book, f"{base}.actions[{i}]", action)
        for purpose, actions in flow.variants.items():
            for i, action in enumerate(actions):
                yield from _action(book, f"{base}.variants.{purpose}[{i}]", action)

    for name, campaign in book.campaigns.items():
        base = f"campaigns.{name}"
        for i, step in enumerate(campaign.steps):
            yield from _step(book, f"{base}.steps[{i}]", step)
        outcome = campaign.on_complete
        if outcome is not None:
            if outcome.milestone is not None and outcome.status is None:
                yield f"{base}.on_complete", "give the status too, so the combination is checked"
            elif outcome.status is not None:
                milestone = outcome.milestone or book.defaults.milestone
                if outcome.milestone is None:
                    yield from _known(outcome.status, statuses, f"{base}.on_complete.status")
                else:
                    yield from _combination(book, f"{base}.on_complete", milestone, outcome.status)
                if (
                    book.has_status(outcome.status)
                    and book.status(outcome.status).requires_follow_up
                ):
                    yield (
                        f"{base}.on_complete.status",
                        f"{outcome.status!r} requires a follow-up, which a completing campaign "
                        "cannot schedule",
                    )

    for name, disposition in book.dispositions.items():
        yield from _known(disposition.status, statuses, f"dispositions.{name}.status", "status")
        if book.contact_prompt is not None and disposition.contact and disposition.requeue:
            yield (
                f"dispositions.{name}.requeue",
                "with contact_prompt the agent sets the next call after contact: "
                "set requeue: false (or remove contact_prompt)",
            )
    if book.contact_prompt is not None:
        yield from _sender(book, "contact_prompt.assignee", book.contact_prompt.assignee)
    for status in book.callback_periods:
        yield from _known(status, statuses, f"callback_periods.{status}", "status")
    for i, band in enumerate(book.production_cycle):
        for milestone in band.milestones:
            yield from _known(milestone, milestones, f"production_cycle[{i}].milestones")
    for i, rule in enumerate(book.date_rules):
        yield from _known(
            rule.key_date, set(book.key_dates), f"date_rules[{i}].key_date", "key date"
        )
        if rule.action.do not in ("task", "sms", "mms", "email"):
            yield f"date_rules[{i}].action.do", "date rules create tasks or send sms/mms/email"
        yield from _action(book, f"date_rules[{i}].action", rule.action)
    for state in [*book.compliance.state_quiet_hours, *book.compliance.frequency_caps]:
        if state != "default" and not (len(state) == 2 and state.isalpha() and state.isupper()):
            yield "compliance", f"{state!r} is not a two-letter state code (or 'default')"
    yield from _keeps_to_the_law(book)
    yield from _templates(book)
    yield from _loops(book)


def _templates(book: Playbook) -> Iterator[Problem]:
    """Every template rendered for each sample lead (a template that breaks only for a lead
    with no name, or grows past a text's segments with a long or accented one, is caught
    here, not at a lead's touch); the first lead it fails for is named."""
    leads = sample_contexts(book.key_dates, book.parties)
    texts = _sent_as_text(book)
    for name, template in book.templates.items():
        for part, source in (("body", template.body), ("subject", template.subject)):
            if source is None:
                continue
            for i, (said, context) in enumerate(leads):
                who = f" for {said}" if i else ""
                try:
                    rendered = render(source, context)
                except TemplateProblem as exc:
                    yield f"templates.{name}.{part}", f"template error{who}: {exc}"
                    break
                if part == "body" and name in texts and (too_long := text_problem(rendered)):
                    yield f"templates.{name}.{part}", f"{too_long} ({said})"
                    break


def _sent_as_text(book: Playbook) -> set[str]:
    """The templates some action or step sends as a text."""
    touches: list[Action | Step] = [*book.on_new_lead, *(r.action for r in book.date_rules)]
    for flow in book.milestone_actions.values():
        touches += flow.actions
        touches += [a for variant in flow.variants.values() for a in variant]
    touches += [step for campaign in book.campaigns.values() for step in campaign.steps]
    return {t.template for t in touches if t.do in ("sms", "mms") and t.template is not None}


def _keeps_to_the_law(book: Playbook) -> Iterator[Problem]:
    """An account may tighten the law's windows and caps, never loosen them: a wider window
    or a looser cap would be ignored in silence, so it is refused with the rule it breaks.
    (`quiet_hours` is the account's window for every recipient: it keeps within the hours of
    each country whose states or provinces `compliance` names; the law applies on top.)"""
    rules = book.compliance
    if not rules.sms_requires_consent and _sent_as_text(book):
        yield (
            "compliance.sms_requires_consent",
            "automated marketing texts need the party's consent on record (47 C.F.R. § "
            "64.1200(a)(2)), and every text a playbook sends a lead is marketing: keep it true "
            "and record consent (sms_consent, or POST /v1/leads/{id}/consents)",
        )
    for country in law.covered([*rules.state_quiet_hours, *rules.frequency_caps]):
        wider = law.looser_in(rules.quiet_hours, country)
        if wider:
            yield "compliance.quiet_hours", wider
    for state, window in rules.state_quiet_hours.items():
        found = law.looser(window, state)
        if found:
            yield f"compliance.state_quiet_hours.{state}", found
    for state, cap in rules.frequency_caps.items():
        for statute in law.on_record(state):
            for limit in statute.caps:
                if cap.per < limit.per or cap.max > limit.max:
                    yield (
                        f"compliance.frequency_caps.{state}",
                        f"{cap.max} per {format_duration(cap.per)} is looser than "
                        f"{statute.name}'s law, {limit.max} per {format_duration(limit.per)} "
                        f"({statute.source}); an account may only tighten it",
                    )


def _known(name: str, known: set[str], path: str, what: str = "milestone") -> Iterator[Problem]:
    if name not in known:
        yield path, f"unknown {what} {name!r}"


def _combination(book: Playbook, path: str, milestone: str, status: str) -> Iterator[Problem]:
    if milestone not in book.milestones:
        yield f"{path}.milestone", f"unknown milestone {milestone!r}"
    elif not book.has_status(status):
        yield f"{path}.status", f"unknown status {status!r}"
    elif status not in book.links.get(milestone, []):
        yield path, f"status {status!r} is not linked with milestone {milestone!r}"


def _sender(book: Playbook, path: str, sender: Sender | None) -> Iterator[Problem]:
    if sender is None:
        return
    if sender.designation is not None and sender.designation not in book.designations:
        yield f"{path}.designation", f"unknown designation {sender.designation!r}"
    if sender.user is not None and sender.user not in book.users:
        yield f"{path}.user", f"unknown user {sender.user!r}"


def _touch(book: Playbook, path: str, touch: Action | Step) -> Iterator[Problem]:
    if touch.template is not None and touch.template not in book.templates:
        yield f"{path}.template", f"unknown template {touch.template!r}"
    for i, party in enumerate(touch.share_with):
        if party not in book.parties:
            yield f"{path}.share_with[{i}]", f"unknown party {party!r}"
    yield from _sender(book, f"{path}.share_from", touch.share_from)


def _action(book: Playbook, path: str, action: Action) -> Iterator[Problem]:
    yield from _touch(book, path, action)
    yield from _sender(book, f"{path}.assignee", action.assignee)
    if action.campaign is not None and action.campaign not in book.campaigns:
        yield f"{path}.campaign", f"unknown campaign {action.campaign!r}"
    window = action.stop_communication
    if window is not None and window.key_date not in book.key_dates:
        yield f"{path}.stop_communication.key_date", f"unknown key date {window.key_date!r}"


def _step(book: Playbook, path: str, step: Step) -> Iterator[Problem]:
    yield from _touch(book, path, step)


def _loops(book: Playbook) -> Iterator[Problem]:
    """A campaign whose completion leads back to itself would run forever."""
    starts: dict[str, set[str]] = {}  # milestone -> campaigns its actions start
    for milestone, flow in book.milestone_actions.items():
        actions = [*flow.actions, *(a for variant in flow.variants.values() for a in variant)]
        starts[milestone] = {a.campaign for a in actions if a.campaign}
    leads_to: dict[str, set[str]] = {}  # campaign -> campaigns started when it completes
    for name, campaign in book.campaigns.items():
        target = campaign.on_complete.milestone if campaign.on_complete else None
        leads_to[name] = starts.get(target, set()) if target else set()

    reported: set[frozenset[str]] = set()

    def visit(name: str, trail: list[str]) -> Iterator[Problem]:
        if name in trail:
            cycle = [*trail[trail.index(name) :], name]
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                yield (
                    f"campaigns.{name}.on_complete",
                    "campaign chain loops forever: " + " -> ".join(cycle),
                )
            return
        for following in sorted(leads_to.get(name, ())):
            yield from visit(following, [*trail, name])

    for name in sorted(book.campaigns):
        yield from visit(name, [])

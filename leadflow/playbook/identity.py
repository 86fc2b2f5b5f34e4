"""The sender's identity in texts: carriers (CTIA), Canada's CASL and Oregon's law want a
lead told who is texting and how to stop. The HELP reply names the business and its help
contact from the playbook's `compliance.identity`; `leadflow playbook check` warns (without
refusing) when a campaign's or a rule's first text names no sender or says nothing of STOP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from leadflow.playbook.schema import Action, Playbook, Step
from leadflow.playbook.sender_identity import Identity

_SENDER = re.compile(r"\{\{[^}]*\bsender\.(?:first_)?name\b[^}]*\}\}")
_STOP = re.compile(r"\breply\s+stop\b|\bstop\s+to\s+opt[\s-]*out\b", re.IGNORECASE)
SAYS_STOP = _STOP  # a text that says how to stop: the gate's disclosures read it too
_TEXTS = ("sms", "mms")


def help_text(identity: Identity) -> str:
    """HELP's answer: the business, its help contact and how to stop, in one plain text (the
    schema keeps each part short enough: `IDENTITY_SEPTETS`)."""
    return (
        f"{identity.name}: texts about your request. Help: {identity.contact}. "
        "Reply STOP to opt out, START to opt back in."
    )


def first_text_warnings(book: Playbook) -> list[tuple[str, str]]:
    """(path, what is missing) for each campaign's and rule's first text to a lead that
    names no sender (the identity's name, or `{{ sender.name }}`/`{{ sender.first_name }}`)
    or says nothing of STOP ("Reply STOP", "STOP to opt out")."""
    return [found for path, touch in _first_texts(book) if (found := _lacking(book, path, touch))]


def _first_texts(book: Playbook) -> Iterator[tuple[str, Action | Step]]:
    rules: list[tuple[str, list[Action]]] = [("on_new_lead", book.on_new_lead)]
    for milestone, flow in book.milestone_actions.items():
        rules.append((f"milestone_actions.{milestone}.actions", flow.actions))
        rules += [
            (f"milestone_actions.{milestone}.variants.{name}", variant)
            for name, variant in flow.variants.items()
        ]
    rules += [(f"date_rules[{i}].action", [rule.action]) for i, rule in enumerate(book.date_rules)]
    for path, actions in rules:
        first = next(((i, a) for i, a in enumerate(actions) if a.do in _TEXTS), None)
        if first is not None:
            yield (path if path.endswith(".action") else f"{path}[{first[0]}]"), first[1]
    for name, campaign in book.campaigns.items():
        step = next(((i, s) for i, s in enumerate(campaign.steps) if s.do in _TEXTS), None)
        if step is not None:
            yield f"campaigns.{name}.steps[{step[0]}]", step[1]


def _lacking(book: Playbook, path: str, touch: Action | Step) -> tuple[str, str] | None:
    template = book.templates.get(touch.template or "")
    if template is None:  # an unknown template is the check's own problem
        return None
    identity = book.compliance.identity
    names = bool(_SENDER.search(template.body)) or (
        identity is not None and identity.name.lower() in template.body.lower()
    )
    missing = [
        *([] if names else ["who is texting"]),
        *([] if _STOP.search(template.body) else ["how to stop"]),
    ]
    if not missing:
        return None
    who = f"{{{{ sender.name }}}} or {identity.name!r}" if identity else "{{ sender.name }}"
    return (
        f"{path}.template",
        f"the first text {touch.template!r} does not say {' or '.join(missing)}: carriers "
        f"filter such texts; name the sender ({who}) and add 'Reply STOP to opt out'",
    )


def email_warnings(book: Playbook) -> list[tuple[str, str]]:
    """A playbook that emails leads with no postal address to put in them: every commercial
    email carries the sender's (CAN-SPAM), beside the unsubscribe link the send path adds."""
    identity = book.compliance.identity
    if identity is not None and identity.postal_address is not None:
        return []
    touches: list[Action | Step] = [*book.on_new_lead, *(r.action for r in book.date_rules)]
    for flow in book.milestone_actions.values():
        touches += [*flow.actions, *(a for variant in flow.variants.values() for a in variant)]
    touches += [step for campaign in book.campaigns.values() for step in campaign.steps]
    if not any(t.do == "email" for t in touches):
        return []
    return [
        (
            "compliance.identity.postal_address",
            "the playbook emails leads but gives no postal address: every commercial email must "
            "carry the sender's (CAN-SPAM, 15 U.S.C. 7704(a)(5)(A)(iii)); set "
            "compliance.identity.postal_address",
        )
    ]

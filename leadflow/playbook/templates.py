"""Message templates: Jinja2 in a sandbox, where an undefined variable is an error.

Pure and deterministic, so the engine renders bodies while deciding and `playbook check`
renders every template against a sample context to catch typos at load time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateProblem(ValueError):
    """A template that does not compile or names something the context lacks."""


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    try:
        return str(_compiled(source).render(context)).strip()
    except TemplateError as exc:
        raise TemplateProblem(str(exc)) from None


def template_context(
    *,
    first_name: str | None,
    last_name: str | None,
    loan_purpose: str | None,
    milestone: str,
    status: str,
    role: str,
    party_name: str | None,
    sender_name: str,
    sender_phone: str | None,
    sender_email: str | None,
    key_dates: Mapping[str, date],
    campaign: str = "",
) -> dict[str, Any]:
    """Every variable a template may use (documented in the README), from the lead's facts.

    The engine renders with the lead's own; `playbook check` with `sample_context`, so a
    template that passes the check names only variables the engine fills."""
    full = " ".join(p for p in (first_name, last_name) if p)
    return {
        "lead": {
            "first_name": first_name or "there",
            "last_name": last_name or "",
            "full_name": full or "there",
            "name": full or "there",
            "loan_purpose": loan_purpose or "",
            "milestone": milestone,
            "status": status,
        },
        "party": {
            "role": role,
            "name": party_name or "there",
            "first_name": party_name.split()[0] if party_name else "there",
            "last_name": party_name.split()[-1] if party_name else "",
        },
        "sender": {
            "name": sender_name,
            "first_name": sender_name.split()[0],
            "phone": sender_phone or "",
            "email": sender_email or "",
        },
        "dates": {name: f"{day:%a %b} {day.day}" for name, day in key_dates.items()},
        "campaign": campaign,
    }


def sample_context(key_dates: list[str], parties: list[str]) -> dict[str, Any]:
    """The context filled with examples, for checking templates before any lead exists."""
    return template_context(
        first_name="Jordan",
        last_name="Example",
        loan_purpose="Purchase",
        milestone="Contacted",
        status="New",
        role=parties[0] if parties else "borrower",
        party_name="Jordan Example",
        sender_name="Sam Sender",
        sender_phone="+15555550100",
        sender_email="sam@example.com",
        key_dates=dict.fromkeys(key_dates, date(2026, 3, 2)),
        campaign="campaign",
    )

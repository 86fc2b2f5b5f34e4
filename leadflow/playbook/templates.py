"""Message templates: Jinja2 in a sandbox, where an undefined variable is an error.

Pure and deterministic, so the engine renders bodies while deciding and `playbook check`
renders every template against a sample context to catch typos at load time.
"""

from __future__ import annotations

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


def sample_context(key_dates: list[str], parties: list[str]) -> dict[str, Any]:
    """Every variable a template may use, filled with examples (documented in the README)."""
    person = {"name": "Jordan Example", "first_name": "Jordan", "last_name": "Example"}
    return {
        "lead": {
            **person,
            "full_name": "Jordan Example",
            "loan_purpose": "Purchase",
            "milestone": "Contacted",
            "status": "New",
        },
        "party": {**person, "role": parties[0] if parties else "borrower"},
        "sender": {
            "name": "Sam Sender",
            "first_name": "Sam",
            "phone": "+15555550100",
            "email": "sam@example.com",
        },
        "dates": dict.fromkeys(key_dates, "Mon Mar 2"),
        "campaign": "campaign",
    }

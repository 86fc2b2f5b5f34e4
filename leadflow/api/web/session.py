"""Who is signed in to the workspace, and the checks every form passes.

An agent signs in with the account's API key and their user id (a user of the account, see
PUT /v1/users/{id}); the session is a signed cookie (HttpOnly, Secure, SameSite=Strict)
naming the account and the agent. Every form carries the session's CSRF token, and a post
without it is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status

from leadflow.engine.refs import LeadRef

SESSION_COOKIE = "leadflow_session"
SESSION_HOURS = 12


class SignedOut(Exception):
    """The page needs a signed-in agent; the app sends the browser to the sign-in page."""


@dataclass(frozen=True)
class Agent:
    account_id: str
    playbook: str  # the account's preset, when it has no stored version
    id: str
    name: str
    time_zone: str
    csrf: str

    def lead(self, lead_id: str) -> LeadRef:
        return LeadRef(account_id=self.account_id, lead_id=lead_id)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def sign_in(
    request: Request, account_id: str, playbook: str, user_id: str, name: str, zone: str
) -> None:
    request.session.clear()
    request.session.update(
        account=account_id, playbook=playbook, agent=user_id, name=name, zone=zone
    )
    csrf_token(request)  # a new token for the new session


def _agent(request: Request) -> Agent:
    s = request.session
    if not s.get("account") or not s.get("agent"):
        raise SignedOut
    return Agent(
        account_id=s["account"],
        playbook=s["playbook"],
        id=s["agent"],
        name=s["name"],
        time_zone=s["zone"],
        csrf=csrf_token(request),
    )


async def _checked(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    """A form post carries the session's token (or htmx's X-CSRF-Token header)."""
    given = csrf or request.headers.get("X-CSRF-Token", "")
    expected = request.session.get("csrf", "")
    if not expected or not hmac.compare_digest(given, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale; reload the page")


SignedIn = Annotated[Agent, Depends(_agent)]
CsrfChecked = Depends(_checked)

"""Who is signed in to the workspace, and the checks every form passes.

An agent signs in with the account's API key and their user id (a user of the account, see
PUT /v1/users/{id}); the session is a signed cookie (HttpOnly, Secure, SameSite=Lax)
naming the account and the agent. Every request checks that the key is still live and the
agent still a user, and a session ends SESSION_HOURS after sign-in however active. Every
form carries the session's CSRF token, and a post without it is refused.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status

from leadflow.api.deps import Database
from leadflow.engine.refs import LeadRef
from leadflow.store.accounts import digest
from leadflow.store.tables import Account
from leadflow.store.users import agent_of_key

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

    @property
    def actor(self) -> str:
        """Who the lead's history says made a change (at most 100 characters)."""
        return self.id[:100]

    def lead(self, lead_id: str) -> LeadRef:
        return LeadRef(account_id=self.account_id, lead_id=lead_id)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def sign_in(
    request: Request, key: str, account: Account, user_id: str, name: str, zone: str
) -> None:
    request.session.clear()
    request.session.update(
        account=account.id,
        playbook=account.playbook,
        key=digest(key),  # checked on every request: revoking the key signs its agents out
        agent=user_id,
        name=name,
        zone=zone,
        since=int(time.time()),
    )
    csrf_token(request)  # a new token for the new session


async def _agent(request: Request, database: Database) -> Agent:
    """The signed-in agent, while their key is live, they are still a user of the account,
    and the session is younger than SESSION_HOURS (however active)."""
    s = request.session
    if not s.get("account") or not s.get("agent") or not s.get("key"):
        raise SignedOut
    if time.time() - float(s.get("since", 0)) > SESSION_HOURS * 3600:
        request.session.clear()
        raise SignedOut
    found = await agent_of_key(database, s["key"], s["agent"])
    if found is None or found[0].id != s["account"]:
        request.session.clear()
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
    expected = str(request.session.get("csrf", ""))
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        if not request.session.get("agent"):
            raise SignedOut  # a form from a session that has ended: sign in again
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale; reload the page")


SignedIn = Annotated[Agent, Depends(_agent)]
CsrfChecked = Depends(_checked)

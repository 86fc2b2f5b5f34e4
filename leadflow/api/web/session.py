"""Who is signed in to the workspace, and the checks every form passes.

Each agent signs in as themselves: the account's id, their user id and their own password
(argon2id, set by an admin or manager with PUT /v1/users/{id}/password or `leadflow user
password`). The session lives on the server (`sessions`); the browser's signed cookie
(HttpOnly, Secure, SameSite=Lax) holds only its random token. Every request reads the
session afresh, so signing out, a new password, a new role or removing the user ends it at
once, and it ends SESSION_HOURS after sign-in however active. Failed sign-ins are counted
per user and per address: past the limit, sign-in is refused for the rest of the window,
right password or not. Every form carries the session's CSRF token, and a post without it
is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status

from leadflow.api.deps import Database
from leadflow.engine.refs import LeadRef
from leadflow.store.sessions import end_session, open_session, session_agent

SESSION_COOKIE = "leadflow_session"
SESSION_HOURS = 12
# Failed sign-ins allowed per window: for one user (guessing a password), and from one
# address (trying many users).
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_USER = 5
FAILURES_PER_ADDRESS = 20


class SignedOut(Exception):
    """The page needs a signed-in agent; the app sends the browser to the sign-in page."""


@dataclass(frozen=True)
class Agent:
    account_id: str
    playbook: str  # the account's preset, when it has no stored version
    id: str
    name: str
    role: str
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


async def sign_in(
    request: Request, database: Database, account_id: str, user_id: str, zone: str
) -> None:
    """A new server session for the user, its token in a fresh cookie."""
    token = await open_session(database, account_id, user_id, zone, timedelta(hours=SESSION_HOURS))
    request.session.clear()
    request.session["sid"] = token
    csrf_token(request)  # a new token for the new session


async def sign_out(request: Request, database: Database) -> None:
    token = request.session.get("sid")
    if token:
        await end_session(database, str(token))
    request.session.clear()


def subjects(request: Request, account_id: str, user_id: str) -> dict[str, int]:
    """What failed sign-ins are counted against, each with its limit."""
    address = request.client.host if request.client else "unknown"
    return {
        f"user:{account_id}:{user_id}": FAILURES_PER_USER,
        f"address:{address}": FAILURES_PER_ADDRESS,
    }


async def _agent(request: Request, database: Database) -> Agent:
    """The signed-in agent, while their server session lives."""
    token = request.session.get("sid")
    if not token:
        raise SignedOut
    found = await session_agent(database, str(token))
    if found is None:
        request.session.clear()
        raise SignedOut
    return Agent(
        account_id=found.account_id,
        playbook=found.playbook,
        id=found.user_id,
        name=found.name,
        role=found.role,
        time_zone=found.time_zone,
        csrf=csrf_token(request),
    )


async def _checked(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    """A form post carries the session's token (or htmx's X-CSRF-Token header)."""
    given = csrf or request.headers.get("X-CSRF-Token", "")
    expected = str(request.session.get("csrf", ""))
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        if not request.session.get("sid"):
            raise SignedOut  # a form from a session that has ended: sign in again
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale; reload the page")


SignedIn = Annotated[Agent, Depends(_agent)]
CsrfChecked = Depends(_checked)

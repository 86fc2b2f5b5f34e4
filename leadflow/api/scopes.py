"""Who may do what: roles, and the scopes each one holds on the API.

A scope is `<resource>:read` or `<resource>:write`. A router asks for its resource's scope by
the request's method (GET and HEAD read; everything else writes), so a route cannot be added
to a router without being covered. An API key acts with its role; a workspace user with theirs.
Roles are ordered: each holds every scope of the ones below it, and nobody may give a key or a
user a role above their own.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["agent", "manager", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

_AGENT = frozenset(
    {"leads:read", "leads:write", "queue:read", "queue:write", "team:read", "senders:read"}
)
_MANAGER = _AGENT | {"reports:read", "team:write", "playbooks:read"}
_ADMIN = _MANAGER | {"playbooks:write", "keys:read", "keys:write", "reports:write"}

SCOPES: dict[Role, frozenset[str]] = {"agent": _AGENT, "manager": _MANAGER, "admin": _ADMIN}
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def scope_for(resource: str, method: str) -> str:
    return f"{resource}:{'read' if method.upper() in READS else 'write'}"


def holds(role: str, scope: str) -> bool:
    return role in SCOPES and scope in SCOPES[role]


def at_most(role: str, ceiling: str) -> bool:
    """Whether `role` is no higher than `ceiling` (an unknown role is higher than any)."""
    if role not in ROLES or ceiling not in ROLES:
        return False
    return ROLES.index(role) <= ROLES.index(ceiling)

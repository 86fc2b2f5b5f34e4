"""Identifiers shared by every message: which account, which lead."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from leadflow.models import Message

IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._@+\-]{0,127}$"
Identifier = Annotated[
    str,
    StringConstraints(pattern=IDENTIFIER),
    Field(description="1-128 characters: letters, digits and . _ @ + -, starting alphanumeric"),
]


class LeadRef(Message):
    """Which lead: unique per account; the workflow id is derived from it."""

    account_id: Identifier
    lead_id: Identifier

    @property
    def workflow_id(self) -> str:
        return f"lead:{self.account_id}:{self.lead_id}"

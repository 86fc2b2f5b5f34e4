"""Playbook migrations over HTTP: the plan first (`dry_run`, the default), then the move."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadflow.api.deps import Authenticated, Database, Leads
from leadflow.api.errors import error_responses
from leadflow.migration import LeadFilter, Outcome, Plan, plan, run

router = APIRouter(
    prefix="/v1/playbook", tags=["playbook"], responses=error_responses(400, 401, 413, 422, 503)
)


class MigrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_version: int = Field(ge=1, description="the stored version to move the leads to")
    only: LeadFilter | None = Field(
        default=None,
        description="only the leads in one of these statuses, milestones and campaigns",
    )
    leads: str | None = Field(
        default=None,
        description="no longer taken: a raw Temporal query could reach past the account; "
        "use `only`",
        deprecated=True,
    )

    @field_validator("leads")
    @classmethod
    def _no_raw_query(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError(
                'a raw query is not taken; choose leads with "only": '
                '{"statuses": [...], "milestones": [...], "campaigns": [...]}'
            )

    dry_run: bool = Field(
        default=True, description="true (the default): the plan only; false: move the leads"
    )


class MigrationOut(BaseModel):
    plan: Plan = Field(description="leads per version, how many move, a sample before and after")
    outcome: Outcome | None = Field(default=None, description="what moved (absent on a dry run)")


@router.post("/migrations", response_model=MigrationOut, response_model_exclude_none=True)
async def migrate(
    body: MigrationIn, caller: Authenticated, database: Database, leads: Leads
) -> MigrationOut:
    """Move the account's running leads to a newer version of its playbook. Ask with
    `dry_run` first: the plan says how many leads run each version, how many would move,
    and for a sample their next touches before and after and which campaigns stop. Then
    the same request with `dry_run: false` moves them, each between two of its decisions;
    a lead the version cannot hold is listed under `refused`, and a repeat moves nobody
    twice."""
    account = caller.account_id
    found = await plan(database, leads, account, body.to_version, body.only)
    if body.dry_run or not found.leads:
        return MigrationOut(plan=found)
    outcome = await run(database, leads, account, body.to_version, body.only)
    return MigrationOut(plan=found, outcome=outcome)

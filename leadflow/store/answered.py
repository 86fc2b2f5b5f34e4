"""What a reply or a contact answered, for the per-step report: the lead's last campaign
message before it, found when the reply or the call is written (one backward step down
`ix_outbox_lead`) and kept on its row, so the report reads a period's replies and contacts
from their own index and never looks a message up."""

from __future__ import annotations

COLUMNS = ("answered_key", "answered_campaign", "answered_step", "answered_at")
_PICKED = {
    "answered_key": "o.key",
    "answered_campaign": "o.campaign",
    "answered_step": "o.step",
    "answered_at": "o.created_at",
}


def _last(picked: str, account: str, lead: str, moment: str) -> str:
    return (
        f"SELECT {picked} FROM outbox o WHERE o.account_id = {account} "
        f"AND o.lead_id = {lead} AND o.created_at <= {moment} AND o.campaign IS NOT NULL "
        "ORDER BY o.created_at DESC LIMIT 1"
    )


def last_message(column: str, account: str, lead: str, moment: str) -> str:
    """SQL for one column of the last campaign message of lead (`account`, `lead`) written
    at or before `moment` (each an SQL expression); NULL when none was."""
    return f"({_last(_PICKED[column], account, lead, moment)})"


def joined(account: str, lead: str, moment: str) -> str:
    """A LEFT JOIN LATERAL giving all the columns at once (as `m.<column>`): one lookup."""
    picked = ", ".join(f"{sql} AS {name}" for name, sql in _PICKED.items())
    return f"LEFT JOIN LATERAL ({_last(picked, account, lead, moment)}) m ON true"

"""What a reply or a contact answered, for the per-step report: the lead's last campaign
message before it, found when the reply or the call is written (one backward step down
`ix_outbox_lead`), kept on its row, and marked on the message's own outbox row (`answered`,
a bit per fact), so the report reads a period's messages and what came after them in one
pass over `ix_outbox_steps`."""

from __future__ import annotations

# The bits of `outbox.answered`.
REPLIED, OPTED_OUT, REACHED = 1, 2, 4
COLUMNS = ("answered_key", "answered_campaign", "answered_step", "answered_at")
_PICKED = {
    "answered_key": "o.key",
    "answered_campaign": "o.campaign",
    "answered_step": "o.step",
    "answered_at": "o.created_at",
}


def _last(picked: str, account: str, lead: str, moment: str, before: bool = False) -> str:
    return (
        f"SELECT {picked} FROM outbox o WHERE o.account_id = {account} AND o.lead_id = {lead} "
        f"AND o.created_at {'<' if before else '<='} {moment} AND o.campaign IS NOT NULL "
        "ORDER BY o.created_at DESC LIMIT 1"
    )


def last_message(column: str, account: str, lead: str, moment: str, before: bool = False) -> str:
    """SQL for one column of the last campaign message of lead (`account`, `lead`) written
    at or (`before`: strictly) before `moment` (each an SQL expression); NULL when none was.
    A call is logged `before` the messages its own decision writes (at the same moment)."""
    return f"({_last(_PICKED[column], account, lead, moment, before)})"


def joined(account: str, lead: str, moment: str) -> str:
    """A LEFT JOIN LATERAL giving all the columns at once (as `m.<column>`): one lookup."""
    picked = ", ".join(f"{sql} AS {name}" for name, sql in _PICKED.items())
    return f"LEFT JOIN LATERAL ({_last(picked, account, lead, moment)}) m ON true"


def marked(key: str, bits: str, rows: str) -> str:
    """SQL that marks the outbox row `key` (an SQL expression over `rows`, a FROM item;
    NULL marks nothing) with `bits` (an SQL expression), keeping the bits it has: two
    answers at once both stay."""
    return f"UPDATE outbox o SET answered = o.answered | ({bits}) FROM {rows} WHERE o.key = {key}"

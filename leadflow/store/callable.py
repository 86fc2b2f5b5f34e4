"""When a queued call (`q`, a row of `call_queue`) may be handed to an agent, as SQL the
claim and the queue's pages share: its window and lease, opt-outs, caps on the person,
do-not-call lists, reassigned numbers, and whom routing gave its lead to."""

from __future__ import annotations

from leadflow.store import reassigned


def over_cap(now: str) -> str:
    """SQL true when the queued call `q` would pass a cap on its number: the account's calls
    handed out (`calls_made`) and texts tried to it, on any lead, within each cap's period."""
    return f"""EXISTS (
        SELECT 1 FROM jsonb_array_elements(q.caps) AS c
        WHERE (SELECT count(*) FROM calls_made AS m
               WHERE c->'counts' ? 'call'
                 AND m.account_id = q.account_id AND m.phone = q.phone
                 AND m.at > CAST({now} AS timestamptz) - CAST(c->>'per' AS interval))
            + (SELECT count(*) FROM outbox AS o
               WHERE o.account_id = q.account_id AND o.to_address = q.phone
                 AND o.attempted_at IS NOT NULL AND o.audience = 'lead'
                 AND o.attempted_at > CAST({now} AS timestamptz) - CAST(c->>'per' AS interval)
                 AND o.channel IN (SELECT jsonb_array_elements_text(c->'counts'))
                 AND (o.provider_id IS NOT NULL
                      OR o.status IN ('sending', 'unanswered', 'unknown')))
            >= CAST(c->>'max' AS integer))"""


def listed(now: str) -> str:
    """SQL true when a do-not-call list holds the queued call `q`: the engine found no
    exemption (written consent, a live business relationship) and its number is on one of
    the lists that reach it, or one of those lists is more than 31 days old
    (`activities.listed` says the same of texts)."""
    line = "CAST(substr(q.phone, 9, 4) AS integer)"
    return f"""(q.do_not_call IS NOT NULL AND q.exemption IS NULL AND EXISTS (
        SELECT 1 FROM dnc_lists AS l
        WHERE l.name = ANY(q.do_not_call)
          AND (l.as_of < CAST(CAST({now} AS timestamptz) AT TIME ZONE 'UTC' AS date) - 31
               OR EXISTS (
                   SELECT 1 FROM dnc_blocks AS b
                   WHERE b.block = CAST(substr(q.phone, 3, 6) AS integer) AND b.list_id = l.id
                     AND CASE WHEN b.bits IS NULL THEN {line} = ANY(b.lines)
                              ELSE get_bit(b.bits, {line}) = 1 END))))"""


def callable_sql(now: str) -> str:
    """SQL true when the queued call `q` may be handed to an agent at `now`: due, unclaimed,
    inside its window, its number not opted out of calls anywhere in the account, under
    every cap on the person, held by no do-not-call list, and its number not reported
    reassigned since it was known to be the party's."""
    return f"""q.available_at <= {now}
      AND (q.claimed_until IS NULL OR q.claimed_until < {now})
      AND (q.callable_until IS NULL OR q.callable_until > {now})
      AND NOT EXISTS (
          SELECT 1 FROM opt_outs AS o
          WHERE o.account_id = q.account_id AND o.channel = 'call' AND o.address = q.phone)
      AND NOT {over_cap(now)}
      AND NOT {listed(now)}
      AND NOT {reassigned.reported_sql()}"""


def on_duty(user: str, now: str) -> str:
    """SQL true when the user whose availability row is `user` works at `now`: not away, on
    one of their days and inside their hours, in their own zone (`engine.routing.why_not`
    says the same); a user with no availability on record works any hour."""
    local = f"(CAST({now} AS timestamptz) AT TIME ZONE {user}.time_zone)"
    return f"""({user}.user_id IS NULL OR (
        NOT {user}.away
        AND {user}.work_days @> to_jsonb(CAST(extract(isodow FROM {local}) AS integer) - 1)
        AND ({user}.hours_start IS NULL
             OR (CAST({local} AS time) >= {user}.hours_start
                 AND CAST({local} AS time) < {user}.hours_end))))"""


def held_elsewhere(now: str, agent: str) -> str:
    """SQL true when routing gave the queued call's lead to a user other than `agent`
    (`q.holder`) who is on duty at `now`: the call is theirs to make. Once they are away or
    off shift (or no longer a user), anyone may take it."""
    return f"""(q.holder IS NOT NULL AND q.holder <> {agent} AND EXISTS (
        SELECT 1 FROM users AS w
        LEFT JOIN user_availability AS u ON u.account_id = w.account_id AND u.user_id = w.id
        WHERE w.account_id = q.account_id AND w.id = q.holder AND {on_duty("u", now)}))"""


def pick(columns: str, now: str, agent: str, where: str = "true") -> str:
    """The CTEs that pick the next call `agent` may take (`picked`: one row of `columns`,
    locked, or none). Calls of leads routing gave the agent come first, ahead of every
    other; then the rest, highest priority first and the longest due, passing over calls
    of leads routing gave another user on duty. Each is one walk down an index in the
    order taken. `SKIP LOCKED`: concurrent claims pass over a row another agent is taking."""
    order = "ORDER BY q.priority DESC, q.available_at LIMIT 1"
    return f"""mine AS MATERIALIZED (
    SELECT {columns} FROM call_queue AS q
    WHERE q.account_id = $1 AND q.holder = {agent} AND {where} AND {callable_sql(now)}
    {order}
    FOR UPDATE SKIP LOCKED
), anyone AS MATERIALIZED (
    SELECT {columns} FROM call_queue AS q
    WHERE q.account_id = $1 AND NOT EXISTS (SELECT 1 FROM mine)
      AND {where} AND {callable_sql(now)} AND NOT {held_elsewhere(now, agent)}
    {order}
    FOR UPDATE SKIP LOCKED
), picked AS (SELECT * FROM mine UNION ALL SELECT * FROM anyone)"""


def holder_sql() -> str:
    """SQL of the user routing gave lead `r.lead_id` of account `r.account_id` to, now."""
    return """(SELECT a.agent FROM routing_assignments AS a
        WHERE a.account_id = r.account_id AND a.lead_id = r.lead_id
          AND a.agent IS NOT NULL AND a.closed_at IS NULL
        ORDER BY a.attempt DESC LIMIT 1)"""

"""What each field of the API means, by name, for the OpenAPI document.

Most fields mean the same wherever they appear (a lead's `milestone`, a party's `phone`), so
they are described once here and the document gives every property its words and an
example; `Model.field` entries describe a field that means something else in one place.
A field that describes itself in its own model keeps its own words.
"""

from __future__ import annotations

from typing import Any

DESCRIPTIONS: dict[str, str] = {
    "action": "what happened, in the playbook's words (its actions), e.g. Lead Update",
    "actor": "who made the change: a user id, an integration's name, `system`",
    "addresses": "phones (E.164) and emails the opt-out or opt-in covers",
    "agenda": "what the lead receives next if nothing else happens, in time order",
    "agent": "the agent taking or giving back the call (a user id or name)",
    "assignee": "who should do it: a user id or a designation of the lead",
    "assignments": "designation name -> the team member filling it (inline, or a user id)",
    "at": "when it happened (ISO 8601)",
    "audit": "why each recent touch fired, was deferred, held, skipped or stopped",
    "available_at": "when an agent may take the call (inside the lead's calling hours)",
    "back_in_queue_at": "when the lead is next in the call queue, if it is queued",
    "body": "the text as sent (or received)",
    "campaign": "the campaign's name in the account's playbook",
    "callable_until": "when the call's window closes: no agent is handed it after that",
    "campaigns": "campaigns the lead is enrolled in now",
    "caps": "the caps the send counts again across the account's leads with the number",
    "counts": "the channels a cap counts (null: the address's messages)",
    "changes": "how many changes the lead has had (a version number for its state)",
    "channel": "sms, mms, email or call",
    "channels": "the channels it covers: sms, mms, email, call",
    "claimed_until": "the claim's lease: past it, the call is back for anyone",
    "command": "the command the engine issued (its `kind` says which)",
    "comments": "the agent's notes on the call",
    "contacted": "whether contact has been made with the lead",
    "contacts": "the lead's parties with their phones and emails",
    "created": "true when this request created the lead",
    "dates": "key date name (the playbook's `key_dates`) -> date",
    "designations": "designation name (the playbook's, e.g. isa, loan_officer) -> the team "
    "member filling it",
    "direction": "outbound (the agent called or texted) or inbound (the lead did)",
    "disposition": "the call's outcome, one of the playbook's dispositions (No Answer, Left "
    "VM, Engaged...): it sets the status and when the lead is back in the queue",
    "due_at": "when the task is due",
    "duration": "how long the call or meeting is planned to take (ISO 8601 duration)",
    "email": "an email address",
    "ends_claim": "true when the call was logged: an agent's claim on the lead ends with it",
    "first_name": "the lead's first name",
    "follow_up": "a call or meeting to schedule with the change; statuses marked "
    "`requires_follow_up` in the playbook need one",
    "history": "history notes, newest first",
    "horizon": "when the lead means to buy or sell: a check-in comes no later than the "
    "playbook's fraction of the way there",
    "id": "the team member's id (a user id from /v1/users, or your own)",
    "ids": "the consent records it ends",
    "lists": "the do-not-call lists the send or the claim checks the number on",
    "reassigned_since": "the day since which the number is known to be the party's: the send "
    "or the claim asks the Reassigned Numbers Database whether it was disconnected since "
    "(null: not asked)",
    "standing": "who may be contacted on the lead, and why: consents, the business "
    "relationship, each number's do-not-call lists and reassigned-number check",
    "exemption": "why no do-not-call list holds it: written consent, or a live business "
    "relationship (null: the lists are checked)",
    "items": "this page's entries",
    "key": "the touch's key: which campaign step, action or follow-up it comes from",
    "key_dates": "key date name (the playbook's `key_dates`) -> date, e.g. funded_date",
    "kind": "which command this is",
    "label": "the queue entry's label: CallASAP, Redial, Callback, Scheduled, FollowUp, "
    "SetCallback",
    "last_name": "the lead's last name",
    "lead_id": "the lead's id in your system (unique within the account)",
    "lead_requested": "true when the lead asked for this time",
    "loan_purpose": "the loan's purpose (e.g. Purchase, Refinance): selects a milestone's "
    "workflow variant in the playbook",
    "max": "the most touches the cap allows in its period",
    "media": "URLs of an MMS's images",
    "moved": "true when the queued call only moved on to its next window (not a new call)",
    "milestone": "the lead's milestone, one of the playbook's milestones",
    "name": "a person's full name",
    "next_cursor": "pass as `cursor` for the next page; null on the last page",
    "next_due": "when the lead's next touch is due, if any",
    "note": "the history note's text",
    "notes": "free text for the person who acts on it",
    "op": "start, pause, resume, cancel, or switch (from `switch_from`)",
    "opted_in": "true for an opt-in (START), false for an opt-out (STOP)",
    "outcome": "fired, deferred, held, skipped, stopped, completed or note",
    "parties": "party role (the playbook's `parties`: borrower, co_borrower, "
    "referral_partner...) -> the person",
    "party": "the party role it concerns (borrower, co_borrower...)",
    "per": "the cap's period (ISO 8601 duration)",
    "phone": "a phone number; stored as E.164 (+13125550111)",
    "playbook": "the playbook's name (the account's, by default)",
    "priority": "higher is called first (the playbook's priorities and the status's)",
    "queue_label": "the label of the lead's call-queue entry, if it is queued",
    "reason": "why, in words",
    "recent_notes": "the lead's latest history notes, newest first",
    "region": "the US state or Canadian province (two letters), for its hours and caps",
    "role": "the party's role (borrower, co_borrower, referral_partner...)",
    "runs": "how many workflow runs the lead has had (continue-as-new)",
    "send_by": "the end of the window it was decided in: never sent at or after it",
    "sender": "the team member it was sent as",
    "sms_consent": "whether the person consented to texts",
    "tags": "the lead's tags (a routing rule may ask for any of them)",
    "language": "the lead's language (es, en...): a routing rule may ask for it",
    "price": "the price the lead looks at, in whole currency units: routing reads it",
    "sms_from": "the member's own sending number, if texts go out from it",
    "snapshot": "where the lead stands: milestone, status, queue, next touch",
    "source": "where the opt-out came from: a STOP reply, the carrier, an agent",
    "start_at": "when the call or meeting starts (ISO 8601 with an offset)",
    "status": "the lead's status, one of the playbook's statuses linked to its milestone",
    "subject": "the subject line (an email's or a task's)",
    "switch_from": "for `switch`: the campaign to leave",
    "template": "the playbook template the text was rendered from",
    "time_zone": "an IANA time zone (America/Chicago): calling hours are local to it",
    "to": "the phone (E.164) or email it went to",
    "until": "deferred or held until this time",
    "updated_at": "when the lead last changed",
    "version": "the leadflow version serving",
    "why": "why the call is not due at once: a hold after the last call, calling hours, a "
    "follow-up time",
    "workflow_id": "the lead's Temporal workflow id, `lead:<account>:<lead>`",
}

OVERRIDES: dict[str, str] = {
    "Readiness.status": "ready, or not ready (see `detail`)",
    "Health.status": "ok: the process answers",
    "UnlinkedPage.playbook": "the account's playbook and version the report checked against",
    "UserIn.designations": "the designations this member can fill",
    "UserOut.designations": "the designations this member can fill",
    "Entry.at": "when the engine would issue the command (ISO 8601)",
    "ReplyIn.body": "the text the lead sent; STOP, START and HELP work as through Twilio",
    "ReplyIn.channel": "sms or email",
    "LeadIn.source": "where the lead came from (a portal, a form, a referral): routing reads it",
    "RouteLead.source": "where the lead came from, as routing reads it",
    "RouteLead.attempt": "1 for a lead's first routing, then each time it asks again",
    "RouteLead.reason": "new, retry (nobody could take it), claim_window (an offer ran out), "
    "unworked (the user given it did not act in time)",
    "RouteLead.tried": "rules already tried for the lead: the chain goes on past them",
    "FirstTouch.by": "who took the lead's first human action",
    "CloseRouting.why": "why the lead no longer counts against its user's open cap",
    "FirstTouch.seconds": "speed to lead: seconds from the lead's creation to that action",
    "CallFacts.contact": "whether the disposition says the call reached the lead",
    "CallFacts.attempt": "which of the lead's outbound calls it was (1 for the first)",
    "RecordHistory.call": "a call logged with its disposition: its facts, for the reports",
}

EXAMPLES: dict[str, Any] = {
    "action": "Lead Update",
    "actor": "ana",
    "agent": "ana",
    "assignee": "isa",
    "campaign": "isa_touches",
    "channel": "sms",
    "comments": "Left a voicemail about rates",
    "dates": {"funded_date": "2027-04-10"},
    "direction": "outbound",
    "disposition": "No Answer",
    "duration": "PT30M",
    "email": "pat@example.com",
    "first_name": "Pat",
    "horizon": "2027-06-01",
    "id": "u-7",
    "key_dates": {"funded_date": "2027-04-10"},
    "label": "Redial",
    "last_name": "Lee",
    "lead_id": "L-1",
    "loan_purpose": "Purchase",
    "milestone": "Contacted",
    "name": "Pat Lee",
    "note": "Wants a quote on Friday",
    "notes": "Call about the rate lock",
    "op": "pause",
    "party": "borrower",
    "phone": "+13125550111",
    "playbook": "isa",
    "priority": "Normal",
    "region": "FL",
    "sms_consent": True,
    "start_at": "2027-03-05T15:00:00-06:00",
    "status": "Engaged",
    "subject": "Quote",
    "time_zone": "America/Chicago",
}


def describe(document: dict[str, Any]) -> None:
    """Give every schema property its description, and an example where one is known."""
    for model, schema in document.get("components", {}).get("schemas", {}).items():
        for field, prop in schema.get("properties", {}).items():
            said = OVERRIDES.get(f"{model}.{field}") or DESCRIPTIONS.get(field)
            if said and "description" not in prop:
                prop["description"] = said
            if field in EXAMPLES and "examples" not in prop and model.endswith(_INPUTS):
                prop["examples"] = [EXAMPLES[field]]


# Examples belong to what callers send: request bodies and the models inside them.
_INPUTS = ("In", "Change", "Log", "Request", "FollowUp", "Horizon")

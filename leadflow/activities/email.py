"""An email as the law and the inboxes accept it: the unsubscribe link after the body (the
playbook's postal address is already in it, `engine.contact.postal`), and the one-click
`List-Unsubscribe` headers (RFC 2369, RFC 8058) Gmail and Yahoo ask of bulk senders. A POST
to the link opts the address out of the account's emails at once."""

from __future__ import annotations

from sendgrid.helpers.mail import CustomArg, Header, Mail
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.providers.clients import ProviderConfig
from leadflow.store import unsubscribe
from leadflow.store.tables import OutboxMessage

ONE_CLICK = "List-Unsubscribe=One-Click"


async def unsubscribe_link(
    engine: AsyncEngine, config: ProviderConfig, row: OutboxMessage
) -> str | None:
    """The link that unsubscribes the email's address from the account's emails; None when
    the API's public address is not configured (nothing could answer the link), or the
    email is routing's notice to a user (a colleague, not a marketing list)."""
    if row.channel != "email" or not config.public_url or row.audience != "lead":
        return None
    token = await unsubscribe.token_for(engine, row.account_id, row.to_address)
    return f"{config.public_url.rstrip('/')}/unsubscribe/{token}"


def mail(row: OutboxMessage, sender: str, link: str | None) -> Mail:
    """The SendGrid message for an outbox email, its key in `custom_args` (events and
    lookups find it by it), with the unsubscribe link and headers when there is a link."""
    body = row.body if link is None else f"{row.body.rstrip()}\n\nUnsubscribe: {link}"
    message = Mail(
        from_email=sender,
        to_emails=row.to_address,
        subject=row.subject or "",
        plain_text_content=body,
    )
    message.custom_arg = CustomArg("leadflow_key", row.key)
    if link is not None:
        message.header = Header("List-Unsubscribe", f"<{link}>")
        message.header = Header("List-Unsubscribe-Post", ONE_CLICK)
    return message

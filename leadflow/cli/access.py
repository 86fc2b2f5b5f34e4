"""`leadflow key`, `leadflow sender` and `leadflow user`: an operator's commands for who may
use an account and what it may send from (DATABASE_URL from the environment)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import phonenumbers
import typer
from rich.console import Console
from rich.table import Table

from leadflow.api.scopes import ROLES
from leadflow.cli.oneline import fails_in_one_line
from leadflow.config import DatabaseSettings, load_settings
from leadflow.engine.refs import IDENTIFIER
from leadflow.errors import ConfigError
from leadflow.playbook.durations import parse_duration

T = TypeVar("T")
err = Console(stderr=True)
keys = typer.Typer(help="An account's API keys: list, make, revoke, rotate.", no_args_is_help=True)
senders = typer.Typer(
    help="The numbers and email addresses an account may send from.", no_args_is_help=True
)
users = typer.Typer(help="Workspace users: set a password.", no_args_is_help=True)

Account = Annotated[str, typer.Argument(help="the account's id")]


def run(work: Callable[..., Awaitable[T]], account_id: str) -> T:
    """Run `work(engine)` against the database, for an account id the API would accept."""
    from leadflow.store.db import check_database, create_engine

    if not re.match(IDENTIFIER, account_id):
        raise ConfigError(f"account id {account_id!r}: not an id the API accepts")
    settings = load_settings(DatabaseSettings)

    async def go() -> T:
        engine = create_engine(settings.database, pool_size=1)
        try:
            await check_database(engine)
            from leadflow.store.accounts import account_exists

            if not await account_exists(engine, account_id):
                raise ConfigError(f"no account {account_id!r}; make it with `leadflow account`")
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _days(text: str, option: str, *, zero: bool = False) -> timedelta | None:
    """A duration from the command line (None for 'never'), at most ten years."""
    if text == "never" and not zero:
        return None
    try:
        found = parse_duration(text)
    except (ValueError, OverflowError) as exc:
        raise ConfigError(f"{option} {text!r}: {exc}") from None
    if found < timedelta(0) or (found == timedelta(0) and not zero):
        raise ConfigError(f"{option} {text!r}: a duration after now, e.g. 90d")
    if found > timedelta(days=3650):
        raise ConfigError(f"{option} {text!r}: at most 3650 days")
    return found


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


@keys.command("list")
@fails_in_one_line
def key_list(
    account: Account,
    revoked: Annotated[bool, typer.Option(help="include revoked keys")] = False,
) -> None:
    """The account's keys with their role, expiry and last use (never the keys)."""
    from leadflow.store.accounts import list_keys

    found = run(lambda engine: list_keys(engine, account, revoked=revoked), account)
    table = Table("id", "name", "role", "created", "expires", "last used", "revoked")
    for k in found:
        table.add_row(
            k.id,
            k.name,
            k.role,
            _when(k.created_at),
            _when(k.expires_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
    Console().print(table)


@keys.command("new")
@fails_in_one_line
def key_new(
    account: Account,
    name: Annotated[str, typer.Option(help="what the key is for")] = "default",
    role: Annotated[str, typer.Option(help="agent, manager or admin")] = "admin",
    expires_in: Annotated[
        str, typer.Option("--expires-in", help="e.g. 90d, 12h, or 'never'")
    ] = "90d",
) -> None:
    """Make a key and print it (shown once)."""
    from leadflow.store.accounts import new_api_key

    if role not in ROLES:
        raise ConfigError(f"--role {role!r}: one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 200:
        raise ConfigError("--name: 1 to 200 characters")
    lasts = _days(expires_in, "--expires-in")
    expires = datetime.now(UTC) + lasts if lasts else None
    key = run(lambda e: new_api_key(e, account, name, role=role, expires_at=expires), account)
    err.print(f"account {account!r}: a new {role} key (shown once):")
    typer.echo(key)


@keys.command("revoke")
@fails_in_one_line
def key_revoke(account: Account, key_id: Annotated[str, typer.Argument(help="k_...")]) -> None:
    """Revoke a key at once."""
    from leadflow.store.accounts import revoke_key

    if run(lambda engine: revoke_key(engine, account, key_id), account) is None:
        raise ConfigError(f"account {account!r} has no live key {key_id!r} (leadflow key list)")
    err.print(f"key {key_id} revoked")


@keys.command("rotate")
@fails_in_one_line
def key_rotate(
    account: Account,
    key_id: Annotated[str, typer.Argument(help="k_...")],
    grace: Annotated[
        str, typer.Option(help="how long the old key keeps working, e.g. 1h (default: 0)")
    ] = "0m",
) -> None:
    """A new key with the same name, role and lifetime; the old one ends now or after
    --grace. Prints the new key (shown once)."""
    from leadflow.store.accounts import rotate_key

    wait = _days(grace, "--grace", zero=True) or timedelta(0)
    rotated = run(lambda e: rotate_key(e, account, key_id, wait), account)
    if rotated is None:
        raise ConfigError(f"account {account!r} has no live key {key_id!r} (leadflow key list)")
    key, record = rotated
    err.print(f"key {key_id} replaced by {record.id} (shown once):")
    typer.echo(key)


def _sender(address: str) -> tuple[str, str]:
    """The channel and canonical form of a sending number (E.164) or email address."""
    if "@" in address:
        from email_validator import EmailNotValidError, validate_email

        try:
            found = validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ConfigError(f"{address!r}: {exc}") from None
        return "email", found.normalized
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ConfigError(f"{address!r}: not a phone number in E.164 form (+15555550100)")
    return "sms", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@senders.command("add")
@fails_in_one_line
def sender_add(
    account: Account, address: Annotated[str, typer.Argument(help="+1... or name@domain")]
) -> None:
    """Record that the account may send from this number or address (one account each)."""
    from leadflow.store.senders import SenderTaken, add_sender

    channel, canonical = _sender(address)

    async def add(engine: object) -> bool:
        try:
            return await add_sender(engine, account, channel, canonical)  # type: ignore[arg-type]
        except SenderTaken as exc:
            raise ConfigError(str(exc)) from None

    made = run(add, account)
    err.print(f"{canonical}: {'added to' if made else 'already held by'} account {account!r}")


@senders.command("remove")
@fails_in_one_line
def sender_remove(account: Account, address: Annotated[str, typer.Argument()]) -> None:
    """The account no longer sends from this number or address."""
    from leadflow.store.senders import remove_sender

    channel, canonical = _sender(address)
    if not run(lambda e: remove_sender(e, account, channel, canonical), account):
        raise ConfigError(f"account {account!r} does not hold {canonical}")
    err.print(f"{canonical}: removed from account {account!r}")


@senders.command("list")
@fails_in_one_line
def sender_list(account: Account) -> None:
    from leadflow.store.senders import list_senders

    for s in run(lambda engine: list_senders(engine, account), account):
        typer.echo(f"{s.channel}\t{s.address}")


@users.command("password")
@fails_in_one_line
def user_password(
    account: Account,
    user_id: Annotated[str, typer.Argument(help="the user's id")],
    stdin: Annotated[bool, typer.Option("--stdin", help="read it from standard input")] = False,
) -> None:
    """Set a user's workspace password (asked twice, or one line on stdin) and sign them out
    everywhere."""
    from leadflow.api.passwords import WeakPassword, check_strength, hash_password
    from leadflow.store.users import set_password

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        check_strength(password)
    except WeakPassword as exc:
        raise ConfigError(str(exc)) from None

    async def store(engine: object) -> bool:
        hashed = await hash_password(password)
        return await set_password(engine, account, user_id, hashed)  # type: ignore[arg-type]

    if not run(store, account):
        raise ConfigError(f"account {account!r} has no user {user_id!r} (PUT /v1/users/ID)")
    err.print(f"user {user_id!r} of {account!r}: password set; their sessions ended")

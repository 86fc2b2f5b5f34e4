"""The operator's commands for access: `leadflow account` (a key only when none works),
`leadflow key`, `leadflow sender` and `leadflow user`, each failing in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from click.testing import Result
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from leadflow.api.passwords import verify_password
from leadflow.cli.main import app
from leadflow.store.accounts import account_for_key, key_id, list_keys
from leadflow.store.db import create_engine
from leadflow.store.senders import list_senders
from leadflow.store.users import save_user, user_of


def _leadflow(database_url: str, *args: str, stdin: str | None = None) -> Result:
    """The command run in this process, as a shell would run it (its own event loop)."""
    env = {"DATABASE_URL": database_url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), input=stdin, env=env)


def _read(database_url: str, query: Callable[[AsyncEngine], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        engine = create_engine(database_url, pool_size=1)
        try:
            return await query(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _one_line_error(result: Result, says: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert says in result.stderr, result.stderr


def test_account_prints_a_key_only_while_it_has_none_that_works(database_url: str) -> None:
    first = _leadflow(database_url, "account", "cli-acme")
    assert first.exit_code == 0 and first.stdout.startswith("lf_"), first.stderr
    again = _leadflow(database_url, "account", "cli-acme")
    assert again.exit_code == 0 and again.stdout == "", again.stdout
    assert len(_read(database_url, lambda e: list_keys(e, "cli-acme"))) == 1
    forced = _leadflow(database_url, "account", "cli-acme", "--key")
    assert forced.stdout.startswith("lf_")
    assert len(_read(database_url, lambda e: list_keys(e, "cli-acme"))) == 2


def test_keys_are_made_listed_rotated_and_revoked_from_the_command_line(database_url: str) -> None:
    _leadflow(database_url, "account", "cli-keys", "--no-key")
    made = _leadflow(
        database_url,
        "key",
        "new",
        "cli-keys",
        "--name",
        "dialer",
        "--role",
        "agent",
        "--expires-in",
        "30d",
    )
    assert made.exit_code == 0, made.stderr
    key = made.stdout.strip()
    holder = _read(database_url, lambda e: account_for_key(e, key))
    assert holder is not None and holder.role == "agent" and not holder.expired
    listed = _leadflow(database_url, "key", "list", "cli-keys")
    assert key_id(key) in listed.stdout and "dialer" in listed.stdout and key not in listed.stdout
    rotated = _leadflow(database_url, "key", "rotate", "cli-keys", key_id(key))
    assert rotated.exit_code == 0, rotated.stderr
    successor = rotated.stdout.strip()
    assert _read(database_url, lambda e: account_for_key(e, key)) is None  # ended at once
    assert _read(database_url, lambda e: account_for_key(e, successor)).role == "agent"
    revoked = _leadflow(database_url, "key", "revoke", "cli-keys", key_id(successor))
    assert revoked.exit_code == 0
    assert _read(database_url, lambda e: account_for_key(e, successor)) is None
    _one_line_error(
        _leadflow(database_url, "key", "revoke", "cli-keys", key_id(successor)), "no live key"
    )
    _one_line_error(
        _leadflow(database_url, "key", "new", "cli-keys", "--role", "root"), "--role 'root'"
    )
    _one_line_error(
        _leadflow(database_url, "key", "new", "cli-keys", "--expires-in", "99999999999d"),
        "--expires-in",
    )
    _one_line_error(_leadflow(database_url, "key", "list", "nobody-here"), "no account")


def test_senders_are_the_operators_to_give_one_account_each(database_url: str) -> None:
    for account in ("cli-one", "cli-two"):
        _leadflow(database_url, "account", account, "--no-key")
    added = _leadflow(database_url, "sender", "add", "cli-one", "+1 312 555 0600")
    assert added.exit_code == 0, added.stderr
    assert [(s.channel, s.address) for s in _read(database_url, _senders_of("cli-one"))] == [
        ("sms", "+13125550600")
    ]
    _one_line_error(
        _leadflow(database_url, "sender", "add", "cli-two", "+13125550600"),
        "held by account 'cli-one'",
    )
    _one_line_error(_leadflow(database_url, "sender", "add", "cli-two", "555"), "E.164")
    email = _leadflow(database_url, "sender", "add", "cli-two", "team@example.com")
    assert email.exit_code == 0, email.stderr
    assert _leadflow(database_url, "sender", "list", "cli-two").stdout == (
        "email\tteam@example.com\n"
    )
    removed = _leadflow(database_url, "sender", "remove", "cli-one", "+13125550600")
    assert removed.exit_code == 0 and _read(database_url, _senders_of("cli-one")) == []


def test_a_users_password_is_set_from_standard_input(database_url: str) -> None:
    _leadflow(database_url, "account", "cli-team", "--no-key")
    _read(database_url, lambda e: save_user(e, "cli-team", "ana", "Ana", None, None, []))
    set_ = _leadflow(
        database_url, "user", "password", "cli-team", "ana", "--stdin", stdin="a long password\n"
    )
    assert set_.exit_code == 0, set_.stderr
    user = _read(database_url, lambda e: user_of(e, "cli-team", "ana"))
    assert user is not None
    assert asyncio.run(verify_password(user.password_hash, "a long password"))
    _one_line_error(
        _leadflow(database_url, "user", "password", "cli-team", "ana", "--stdin", stdin="short\n"),
        "at least 12",
    )
    _one_line_error(
        _leadflow(
            database_url, "user", "password", "cli-team", "bo", "--stdin", stdin="long enough pw\n"
        ),
        "no user 'bo'",
    )


def _senders_of(account: str) -> Callable[[AsyncEngine], Awaitable[Any]]:
    return lambda engine: list_senders(engine, account)

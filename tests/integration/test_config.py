"""Configuration: a missing, malformed or unreachable setting fails fast, naming the variable."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid

import pytest

from leadflow.codec import Keyring, new_key
from leadflow.config import DEV_ENV_HINT, DatabaseSettings, Settings, load_settings
from leadflow.errors import ConfigError
from tests.keys import TEST_KEYS


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(os.path.dirname(__file__))  # no stray .env
    return monkeypatch


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, f"DATABASE_URL is not set ({DEV_ENV_HINT})"),
        ({"DATABASE_URL": "postgresql://u@h/db"}, f"TEMPORAL_ADDRESS is not set ({DEV_ENV_HINT})"),
        (
            {"DATABASE_URL": "mysql://u@h/db", "TEMPORAL_ADDRESS": "h:7233"},
            "DATABASE_URL is invalid: expected a postgresql:// URL, got scheme 'mysql'",
        ),
        (
            {"DATABASE_URL": "postgresql://u@h", "TEMPORAL_ADDRESS": "h:7233"},
            "DATABASE_URL is invalid: the URL names no database",
        ),
        (
            {"DATABASE_URL": "not a url", "TEMPORAL_ADDRESS": "h:7233"},
            "DATABASE_URL is invalid: expected postgresql://",
        ),
        (
            {"DATABASE_URL": "postgresql://u@h/db", "TEMPORAL_ADDRESS": "temporal"},
            "TEMPORAL_ADDRESS is invalid: expected host:port",
        ),
        (
            {
                "DATABASE_URL": "postgresql://u@h/db",
                "TEMPORAL_ADDRESS": "h:7233",
                "PROVIDER_LANDING_SECONDS": "5",
            },
            "PROVIDER_LANDING_SECONDS is invalid: Input should be greater than or equal to 10",
        ),
    ],
)
def test_bad_settings_name_the_variable(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(message)


def test_any_postgres_scheme_is_bound_to_asyncpg(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgres://u:p@db:5432/leadflow")
    settings = load_settings(DatabaseSettings)
    assert settings.database.drivername == "postgresql+asyncpg"
    assert settings.database.database == "leadflow"
    assert not isinstance(settings, Settings)


PROVIDERS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM": "+13125550000",
    "SENDGRID_API_KEY": "SG.key",
    "SENDGRID_FROM": "team@example.com",
}


def _leadflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env={
            "PATH": os.environ["PATH"],
            "COLUMNS": "200",
            "ENCRYPTION_KEYS": TEST_KEYS,
            **PROVIDERS,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_with_unreachable_database_exits_with_one_line() -> None:
    url = f"postgresql://leadflow:secret@127.0.0.1:{_closed_port()}/leadflow"
    result = _leadflow(["worker"], {"DATABASE_URL": url, "TEMPORAL_ADDRESS": "127.0.0.1:7233"})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leadflow: error: DATABASE_URL: cannot connect to")
    assert "secret" not in lines[0]


def test_api_with_unreachable_temporal_exits_with_one_line(database_url: str) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    result = _leadflow(["api"], {"DATABASE_URL": database_url, "TEMPORAL_ADDRESS": address})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"leadflow: error: TEMPORAL_ADDRESS: cannot connect to {address}")


def test_an_account_id_the_api_would_refuse_is_refused_at_once(database_url: str) -> None:
    result = _leadflow(["account", "../../x y"], {"DATABASE_URL": database_url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leadflow: error: account id '../../x y': use 1-128 letters")
    assert result.stdout == ""  # no key printed


def test_a_fake_provider_signing_key_that_is_no_key_is_refused_in_one_line() -> None:
    result = _leadflow(["fake-providers"], {"SENDGRID_WEBHOOK_SIGNING_KEY": "not-a-key"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leadflow: error: SENDGRID_WEBHOOK_SIGNING_KEY: ")


def test_worker_without_settings_says_what_is_missing(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leadflow", "worker"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"leadflow: error: DATABASE_URL is not set ({DEV_ENV_HINT})"


def _worker_fails(**env: str) -> subprocess.CompletedProcess[str]:
    """`leadflow worker` with only these settings (and PATH): it should stop at once."""
    return subprocess.run(
        [sys.executable, "-m", "leadflow", "worker"],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": "postgresql://u@h/db", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_without_provider_credentials_says_which() -> None:
    result = _worker_fails(TEMPORAL_ADDRESS="h:7233", TWILIO_ACCOUNT_SID="AC1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "leadflow: error: TWILIO_AUTH_TOKEN is not set (the worker sends texts and emails)"
    )


def test_sending_numbers_with_their_own_rate_get_their_own_queue(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://u@h/db")
    clean_env.setenv("TEMPORAL_ADDRESS", "h:7233")
    clean_env.setenv("SENDER_RATES", '{"+13125550000": 1, "+18005550100": 30}')
    settings = load_settings()
    assert settings.sender_rates == {"+13125550000": 1.0, "+18005550100": 30.0}
    assert settings.sender_queues() == {
        "+13125550000": "leadflow-sends-13125550000",
        "+18005550100": "leadflow-sends-18005550100",
    }


def test_worker_without_encryption_keys_says_how_to_make_one() -> None:
    result = _leadflow(
        ["worker"],
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "TEMPORAL_ADDRESS": "h:7233",
            "ENCRYPTION_KEYS": "",
        },
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "leadflow: error: ENCRYPTION_KEYS: not set; make a key with `leadflow new-key` and "
        "set ENCRYPTION_KEYS=<id>:<key>"
    )


def test_a_key_swapped_under_a_known_id_stops_the_worker_in_one_line(database_url: str) -> None:
    key_id = f"cfg-{uuid.uuid4().hex[:6]}"
    closed = f"127.0.0.1:{_closed_port()}"
    first = _leadflow(
        ["worker"],
        {
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": closed,
            "ENCRYPTION_KEYS": new_key(key_id),
        },
    )
    assert "TEMPORAL_ADDRESS" in first.stderr  # the key passed its check and was recorded

    swapped = _leadflow(
        ["worker"],
        {
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": closed,
            "ENCRYPTION_KEYS": new_key(key_id),
        },
    )
    assert swapped.returncode == 2
    lines = swapped.stderr.strip().splitlines()
    assert lines == [
        f"leadflow: error: ENCRYPTION_KEYS: key {key_id!r} is not the key this deployment first "
        "used under that id; restore it, or add the new key under a new id"
    ]


def test_new_key_prints_an_entry_the_settings_accept() -> None:
    result = _leadflow(["new-key", "--id", "k7"], {})
    assert result.returncode == 0, result.stderr
    entry = result.stdout.strip()
    assert entry.startswith("k7:")
    assert Keyring.parse(entry).current == "k7"


def test_a_worker_logs_no_twilio_request_lines_unless_verbose() -> None:
    from leadflow.cli.main import _logging

    twilio = logging.getLogger("twilio.http_client")
    _logging(verbose=False)
    assert not twilio.isEnabledFor(logging.INFO) and twilio.isEnabledFor(logging.WARNING)
    _logging(verbose=True)
    assert twilio.isEnabledFor(logging.DEBUG)
    logging.getLogger("twilio").setLevel(logging.NOTSET)


def test_a_log_format_other_than_text_or_json_is_one_line() -> None:
    result = _worker_fails(
        TEMPORAL_ADDRESS="h:7233",
        TWILIO_ACCOUNT_SID="AC1",
        TWILIO_AUTH_TOKEN="t",
        TWILIO_FROM="+13125550000",
        SENDGRID_API_KEY="SG.k",
        SENDGRID_FROM="a@example.com",
        LOG_FORMAT="xml",
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "leadflow: error: LOG_FORMAT is invalid: expected text or json, got 'xml'"
    )

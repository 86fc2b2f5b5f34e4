"""docker-compose.yml is wired consistently (nothing here runs Docker; we read the file)."""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from leadflow.cli.dev import DEV_SERVER_TUNING
from leadflow.codec import new_key
from leadflow.config import REQUIRED, DatabaseSettings, load_settings
from leadflow.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _published(service: dict[str, Any]) -> dict[int, int]:
    pairs = (str(port).split(":") for port in service.get("ports", []))
    return {int(container): int(host) for host, container in pairs}


def _depends(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def test_the_whole_topology_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "temporal-ui",
        "migrate",
        "worker",
        "api",
    }


def test_every_dependency_names_a_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in _depends(service):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_temporal_persists_to_the_postgresql_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    database = services["postgresql"]["environment"]
    for name in ("temporal-schema", "temporal"):
        env = services[name]["environment"]
        assert (env["DB"], env["POSTGRES_SEEDS"]) == ("postgres12", "postgresql")
        assert env["POSTGRES_USER"] == database["POSTGRES_USER"]
        assert env["POSTGRES_PWD"] == database["POSTGRES_PASSWORD"]
    assert (
        services["temporal-schema"]["environment"]["SQL_PASSWORD"] == database["POSTGRES_PASSWORD"]
    )
    assert _depends(services["temporal-schema"]) == {"postgresql": "service_healthy"}
    assert _depends(services["temporal"]) == {"temporal-schema": "service_completed_successfully"}
    assert _depends(services["temporal-namespace"]) == {"temporal": "service_healthy"}
    assert "healthcheck" in services["temporal"]


def test_temporal_runs_from_the_images_temporal_maintains(compose: dict[str, Any]) -> None:
    images = {
        name: service["image"].split(":")
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("temporalio/")
    }
    assert {repo for repo, _ in images.values()} == {
        "temporalio/server",
        "temporalio/admin-tools",
        "temporalio/ui",
    }  # not the deprecated temporalio/auto-setup
    # The tools that set the schema up are the server's own version.
    server = images["temporal"][1]
    assert images["temporal-schema"][1] == images["temporal-namespace"][1] == server


@pytest.mark.parametrize("name", ["temporal-schema", "temporal-namespace"])
def test_temporal_setup_runs_a_script_the_repository_ships(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    mounts = dict(volume.rsplit(":", 1)[0].split(":") for volume in service["volumes"])
    script = service["command"][-1]
    folder = next(inside for inside in mounts.values() if script.startswith(inside + "/"))
    host = next(h for h, inside in mounts.items() if inside == folder)
    shipped = ROOT / host / script.removeprefix(folder + "/")
    assert shipped.is_file(), f"{name} runs {script}, which {shipped} should be"
    assert shipped.read_text().startswith("#!/bin/sh\n")


def test_the_server_polls_its_queues_as_fast_as_the_dev_server(compose: dict[str, Any]) -> None:
    temporal = compose["services"]["temporal"]
    inside = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    host = next(
        v.split(":")[0] for v in temporal["volumes"] if v.split(":")[1].endswith("/" + inside)
    )
    values = {
        key: entries[0]["value"]
        for key, entries in yaml.safe_load((ROOT / host).read_text()).items()
    }
    tuned = dict(
        flag.removeprefix("--dynamic-config-value=").split("=") for flag in DEV_SERVER_TUNING
    )
    assert {key: json.dumps(value) for key, value in values.items()} == tuned


def test_ui_reaches_the_temporal_frontend(compose: dict[str, Any]) -> None:
    ui = compose["services"]["temporal-ui"]
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "8080" in ui["expose"]


def test_only_the_api_is_published(compose: dict[str, Any]) -> None:
    """PostgreSQL, Temporal's gRPC and its Web UI answer inside the compose network alone."""
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert published == {"api": ["8000:8000"]}


def test_no_password_has_a_default(compose: dict[str, Any]) -> None:
    """Each password comes from the environment, and compose refuses to start without it."""
    passwords = {
        f"{name}.{key}": value
        for name, service in compose["services"].items()
        for key, value in (service.get("environment") or {}).items()
        if "PASSWORD" in key or key.endswith("_PWD")
    }
    assert {"postgresql.POSTGRES_PASSWORD", "temporal.POSTGRES_PWD"} <= set(passwords)
    for where, value in passwords.items():
        assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{where} = {value!r}"
    for name in ("migrate", "worker", "api"):
        url = compose["services"][name]["environment"]["DATABASE_URL"]
        assert str(make_url(url).password).startswith("${LEADFLOW_DB_PASSWORD:?")
        with pytest.raises(LookupError, match="LEADFLOW_DB_PASSWORD"):
            _interpolated(url, {})
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    assert "PASSWORD :'password'" in init and 'password="$LEADFLOW_DB_PASSWORD"' in init


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://leadflow:leadflow@postgresql:5432/leadflow",  # the file's old defaults
        "postgresql://temporal:temporal@postgresql:5432/temporal",
        "postgresql://app:postgres@db.internal/app",
        "postgresql://app:app@db.internal/app",
    ],
)
def test_a_default_password_for_a_database_beyond_loopback_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match=r"DATABASE_URL is invalid: the password of .* default"):
        load_settings(DatabaseSettings)
    monkeypatch.setenv("DATABASE_URL", url.replace(f"@{make_url(url).host}", "@127.0.0.1"))
    assert load_settings(DatabaseSettings).database.host == "127.0.0.1"  # a local one: yours


@pytest.mark.parametrize("name", ["migrate", "worker", "api"])
def test_leadflow_services_point_at_the_right_places(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    env = service["environment"]
    assert service["build"] == "."
    database = make_url(_interpolated(env["DATABASE_URL"], USER_SETTINGS))
    assert database.host == "postgresql" and database.port == 5432
    assert database.password == USER_SETTINGS["LEADFLOW_DB_PASSWORD"]
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    assert init.startswith("#!/bin/sh\n")
    assert f"CREATE ROLE {database.username} WITH LOGIN PASSWORD :'password'" in init
    assert f"CREATE DATABASE {database.database} OWNER {database.username}" in init
    postgresql = compose["services"]["postgresql"]
    assert (
        postgresql["environment"]["LEADFLOW_DB_PASSWORD"]
        == (env["DATABASE_URL"].split(":", 2)[2].split("@")[0])
    )  # the role's password is the one the URL carries
    assert any(volume.startswith("./deploy/postgres-init.sh:") for volume in postgresql["volumes"])
    if name != "migrate":
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert _depends(service) == {
            "temporal-namespace": "service_completed_successfully",
            "migrate": "service_completed_successfully",
        }


def test_api_listens_on_all_interfaces_on_its_published_port(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    command = api["command"]
    port = int(command[command.index("--port") + 1])
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert _published(api) == {port: 8000}


def test_image_runs_the_leadflow_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["leadflow"]' in dockerfile
    for folder in ("leadflow", "migrations", "playbooks"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert "-c constraints.txt" in dockerfile


def test_leadflow_seals_payloads_and_the_ui_hands_no_credential_to_its_visitors(
    compose: dict[str, Any],
) -> None:
    for name in ("worker", "api"):
        env = compose["services"][name]["environment"]
        assert env["ENCRYPTION_KEYS"].startswith("${ENCRYPTION_KEYS:?")  # required, no default
        assert env["OPS_TOKEN"] == "${OPS_TOKEN:-}"
        assert env["REQUIRE_SEALED_PAYLOADS"] == "true"
    ui = compose["services"]["temporal-ui"]["environment"]
    # The UI's settings (its codec endpoint among them) go to every visitor: no token there.
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "${TEMPORAL_CODEC_ENDPOINT:-}"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"  # the sign-on proxy's cookie
    assert not any("OPS_TOKEN" in str(value) for value in ui.values())
    origins = compose["services"]["api"]["environment"]["CODEC_ORIGINS"]
    assert json.loads(origins) == []


USER_SETTINGS = {  # what a user provides in .env for the settings compose requires
    "POSTGRES_PASSWORD": "b3d1c6e0a9f24c8e",
    "LEADFLOW_DB_PASSWORD": "7f0e2d9c4b1a8e63",
    "ENCRYPTION_KEYS": new_key("k1"),
    "TWILIO_ACCOUNT_SID": "AC0123",
    "TWILIO_AUTH_TOKEN": "secret",
    "TWILIO_FROM": "+13125550000",
    "SENDGRID_API_KEY": "SG.secret",
    "SENDGRID_FROM": "team@example.com",
    "SENDGRID_WEBHOOK_PUBLIC_KEY": "MFkw...",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:\?|:-)([^}]*))?\}")


def _interpolated(value: object, given: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} against `given`."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if given.get(name):
            return given[name]
        if kind == ":?":
            raise LookupError(f"{name}: {rest}")
        return rest if kind == ":-" else ""

    return _VARIABLE.sub(one, str(value))


@pytest.mark.parametrize("name", ["migrate", "worker", "api"])
def test_every_setting_a_service_requires_is_provided(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"][name]
    role = service["command"][0]
    env = {
        key: _interpolated(value, USER_SETTINGS) for key, value in service["environment"].items()
    }
    missing = [setting for setting in REQUIRED[role] if setting not in env]
    assert not missing, f"{name} ({role}) needs {missing}, which compose does not pass"
    # Those the user must give are required (compose refuses to start without them, with
    # a message), never silently empty; OPS_TOKEN alone may be empty (the codec is off).
    for setting in REQUIRED[role]:
        if setting == "OPS_TOKEN":
            continue
        given = {name: value for name, value in USER_SETTINGS.items() if name != setting}
        with (
            pytest.raises(LookupError, match=setting) if setting in USER_SETTINGS else nullcontext()
        ):
            _interpolated(service["environment"][setting], given)
    for key, value in env.items():  # read as the process reads them: from its environment
        monkeypatch.setenv(key, value)
    settings = load_settings()
    settings.keyring()
    if role == "worker":
        settings.providers()
    else:
        assert settings.public_url


def test_the_cluster_starts_with_512_shards_and_visibility_in_its_own_database(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["temporal"]["environment"]
    # The shard count can never change once the cluster has started: the file says so
    # where the setting is, and the default is the one the sizing plans for.
    assert _interpolated(env["NUM_HISTORY_SHARDS"], {}) == "512"
    assert _interpolated(env["NUM_HISTORY_SHARDS"], {"NUM_HISTORY_SHARDS": "1024"}) == "1024"
    text = (ROOT / "docker-compose.yml").read_text()
    assert "can NEVER change" in text.split("NUM_HISTORY_SHARDS:")[0].rsplit("\n\n", 1)[-1]
    assert "512** history shards" in (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    schema = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    assert f"sql {env['VISIBILITY_DBNAME']} update-schema" in schema


def test_the_workers_cache_and_polling_are_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum

    from leadflow.worker import pollers

    env = compose["services"]["worker"]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, _interpolated(value, USER_SETTINGS))
    settings = load_settings()
    assert settings.worker_cached_leads == 20_000
    assert pollers(settings) == PollerBehaviorAutoscaling(minimum=2, maximum=20, initial=5)
    monkeypatch.setenv("WORKER_POLLER_AUTOSCALING", "false")
    monkeypatch.setenv("WORKER_POLLERS", "8")
    assert pollers(load_settings()) == PollerBehaviorSimpleMaximum(maximum=8)
    monkeypatch.setenv("WORKER_POLLERS", "1")
    with pytest.raises(ConfigError, match="WORKER_POLLERS"):
        load_settings()

    # Versioned only when told both the deployment and the build, never half.
    assert settings.deployment() is None  # compose passes both empty: unversioned
    monkeypatch.setenv("WORKER_POLLERS", "8")
    monkeypatch.setenv("WORKER_DEPLOYMENT", "leadflow")
    with pytest.raises(ConfigError, match="WORKER_DEPLOYMENT and WORKER_BUILD_ID go together"):
        load_settings().deployment()
    monkeypatch.setenv("WORKER_BUILD_ID", "2026.12.08-abc123")
    version = load_settings().deployment()
    assert version is not None
    assert (version.deployment_name, version.build_id) == ("leadflow", "2026.12.08-abc123")
    monkeypatch.setenv("WORKER_BUILD_ID", "has spaces")
    with pytest.raises(ConfigError, match="WORKER_BUILD_ID"):
        load_settings()

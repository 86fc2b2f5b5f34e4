"""docker-compose.yml is wired consistently (nothing here runs Docker; we read the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

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
        "temporal",
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
    temporal = compose["services"]["temporal"]
    database = compose["services"]["postgresql"]["environment"]
    assert temporal["image"].startswith("temporalio/auto-setup:")
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["environment"]["POSTGRES_USER"] == database["POSTGRES_USER"]
    assert temporal["environment"]["POSTGRES_PWD"] == database["POSTGRES_PASSWORD"]
    assert _depends(temporal) == {"postgresql": "service_healthy"}
    assert _published(temporal) == {7233: 7233}


def test_ui_reaches_the_temporal_frontend(compose: dict[str, Any]) -> None:
    ui = compose["services"]["temporal-ui"]
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert 8080 in _published(ui)


@pytest.mark.parametrize("name", ["migrate", "worker", "api"])
def test_leadflow_services_point_at_the_right_places(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    env = service["environment"]
    assert service["build"] == "."
    database = make_url(env["DATABASE_URL"])
    assert database.host == "postgresql" and database.port == 5432
    init = (ROOT / "deploy" / "postgres-init.sql").read_text()
    assert f"CREATE ROLE {database.username} WITH LOGIN PASSWORD '{database.password}'" in init
    assert f"CREATE DATABASE {database.database} OWNER {database.username}" in init
    mounted = compose["services"]["postgresql"]["volumes"]
    assert any(volume.startswith("./deploy/postgres-init.sql:") for volume in mounted)
    if name != "migrate":
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert _depends(service) == {
            "temporal": "service_started",
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


def test_leadflow_seals_payloads_and_the_ui_opens_them_through_the_api(
    compose: dict[str, Any],
) -> None:
    for name in ("worker", "api"):
        env = compose["services"][name]["environment"]
        assert env["ENCRYPTION_KEYS"].startswith("${ENCRYPTION_KEYS:?")  # required, no default
        assert env["OPS_TOKEN"] == "${OPS_TOKEN:-}"
    ui = compose["services"]["temporal-ui"]
    api_port = next(iter(_published(compose["services"]["api"])))
    endpoint = ui["environment"]["TEMPORAL_CODEC_ENDPOINT"]
    assert endpoint == f"http://localhost:{api_port}/codec/ops/${{OPS_TOKEN:-}}"
    ui_origin = f"http://localhost:{next(iter(_published(ui)))}"
    origins = compose["services"]["api"]["environment"]["CODEC_ORIGINS"]
    assert ui_origin in origins

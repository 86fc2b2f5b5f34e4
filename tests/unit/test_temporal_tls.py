"""TLS to Temporal from the settings: the server's CA, this process's certificate and key for
mTLS, read once at start; a setting that cannot work stops the process in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from leadflow.config import Settings, load_settings
from leadflow.errors import ConfigError


def _settings(**tls: object) -> Settings:
    return load_settings(
        database_url="postgresql://leadflow@127.0.0.1/leadflow",
        temporal_address="temporal.internal:7233",
        **tls,
    )


def test_mtls_reads_the_ca_the_certificate_and_the_key(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    tls = _settings(
        temporal_tls_ca=str(tmp_path / "ca.pem"),
        temporal_tls_cert=str(tmp_path / "client.pem"),
        temporal_tls_key=str(tmp_path / "client.key"),
        temporal_tls_server_name="temporal.example.com",
    ).temporal_tls_config()
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"-----ca.pem-----"
    assert (tls.client_cert, tls.client_private_key) == (
        b"-----client.pem-----",
        b"-----client.key-----",
    )
    assert tls.domain == "temporal.example.com"


def test_plain_tls_and_none() -> None:
    assert _settings(temporal_tls=True).temporal_tls_config() is True
    assert _settings().temporal_tls_config() is False


def test_a_tls_setting_that_cannot_work_is_named(tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_bytes(b"cert")
    with pytest.raises(ConfigError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together"):
        _settings(temporal_tls_cert=str(tmp_path / "client.pem")).temporal_tls_config()
    with pytest.raises(ConfigError, match=r"TEMPORAL_TLS_CA: cannot read .*missing\.pem"):
        _settings(temporal_tls_ca=str(tmp_path / "missing.pem")).temporal_tls_config()

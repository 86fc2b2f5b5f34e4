"""Process configuration, read from the environment (and a local `.env` when present)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, TypeVar, overload

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import TLSConfig

from leadflow.codec import Keyring
from leadflow.errors import ConfigError
from leadflow.providers.clients import LANDING_SECONDS, NORTH_AMERICA, TIMEOUT, ProviderConfig
from leadflow.providers.reassigned import RndConfig

S = TypeVar("S", bound="DatabaseSettings")
# `leadflow dev` writes the settings of the stack it runs here, for commands run beside it.
DEV_ENV = ".leadflow/dev.env"
DEV_ENV_SETS = ("DATABASE_URL", "TEMPORAL_ADDRESS")
DEV_ENV_HINT = f"beside `make dev`: set -a; . {DEV_ENV}; set +a"
# Passwords every scanner tries first: refused for a database beyond loopback.
DEFAULT_PASSWORDS = frozenset({"postgres", "password", "temporal", "leadflow"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", None})  # None: a Unix socket
TOKEN_MIN_LENGTH = 32  # the ops and metrics credentials: guessing one is out of reach
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


class DatabaseSettings(BaseSettings):
    """Enough to reach PostgreSQL (migrations need nothing more)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = Field(description="postgresql://user:password@host:port/database")

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if value.startswith("postgres://"):  # the short form many hosts hand out
            value = "postgresql://" + value.removeprefix("postgres://")
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                f"expected postgresql://user:password@host:port/database, got {value!r}"
            ) from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"expected a postgresql:// URL, got scheme {url.drivername!r}")
        if not url.database:
            raise ValueError("the URL names no database (postgresql://.../DATABASE)")
        known = {*DEFAULT_PASSWORDS, url.username}
        if url.password is not None and url.host not in LOOPBACK and url.password in known:
            raise ValueError(
                f"the password of {url.username!r} is a well-known default, and {url.host} is "
                "reachable beyond this machine; give the role a password of its own"
            )
        return value

    @cached_property
    def database(self) -> URL:
        """The database URL bound to the asyncpg driver whatever scheme the user wrote."""
        return make_url(self.database_url).set(drivername="postgresql+asyncpg")


# What the send worker cannot start without.
PROVIDER_SETTINGS = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "SENDGRID_API_KEY",
    "SENDGRID_FROM",
)
# Every setting each process needs to do all of its work (beyond those with defaults).
# docker-compose.yml is checked against this.
REQUIRED = {
    "migrate": ("DATABASE_URL",),
    "worker": ("DATABASE_URL", "TEMPORAL_ADDRESS", "ENCRYPTION_KEYS", *PROVIDER_SETTINGS),
    "api": (
        "DATABASE_URL",
        "TEMPORAL_ADDRESS",
        "ENCRYPTION_KEYS",
        "TWILIO_AUTH_TOKEN",  # checks Twilio's webhook signatures
        "PUBLIC_URL",  # the URL those signatures cover
        "SENDGRID_WEBHOOK_PUBLIC_KEY",  # checks SendGrid's event webhook
        "OPS_TOKEN",  # opens the codec endpoint to ops
    ),
}


class Settings(DatabaseSettings):
    """Everything the worker and the API need to reach Temporal, PostgreSQL and providers."""

    temporal_address: str = Field(description="host:port of the Temporal frontend")
    temporal_namespace: str = "default"
    # TLS to Temporal (see temporal_tls): the server's CA, and for mTLS this process's
    # certificate and key, as PEM files; TEMPORAL_TLS alone: TLS with the system's CAs.
    temporal_tls: bool = False
    temporal_tls_ca: str | None = None
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_server_name: str | None = None  # when the certificate names another host
    temporal_task_queue: str = "leadflow"
    # Leads kept in a worker's memory between their tasks (the SDK's max_cached_workflows).
    # A lead not cached replays its history when it wakes; most sleep for days, so about 1%
    # of the running leads, spread over the workers, is enough (docs/ARCHITECTURE.md, Sizing).
    worker_cached_leads: int = Field(default=1000, ge=0)
    # How many polls a worker keeps open on each task queue: scaled between 2 and this by
    # the server's answers (the SDK's poller autoscaling), or this many always when
    # WORKER_POLLER_AUTOSCALING is false.
    worker_pollers: int = Field(default=20, ge=2)
    worker_poller_autoscaling: bool = True
    # A versioned deploy (docs/ARCHITECTURE.md, Deploying with versions): the worker joins
    # this Worker Deployment as this build (both, or neither: unversioned, as `leadflow dev`).
    worker_deployment: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")] | None = None
    worker_build_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")] | None = None

    # Where the worker serves its metrics for Prometheus (host:port): the Temporal SDK's
    # and leadflow's own (touches, sends). Unset: none. The API serves its own at /metrics.
    metrics_address: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    playbooks_dir: str | None = None  # a folder of playbook YAML files; default: shipped

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None  # the sending number, E.164
    twilio_base_url: str | None = None  # e.g. the fake provider server
    sendgrid_api_key: SecretStr | None = None
    sendgrid_from: str | None = None
    sendgrid_base_url: str | None = None
    public_url: str | None = None  # how Twilio reaches the API: signatures cover this URL
    sendgrid_webhook_public_key: str | None = None  # verifies the event webhook (ECDSA)
    sendgrid_parse_public_key: str | None = None  # verifies Inbound Parse (its own policy)
    sends_task_queue: str = "leadflow-sends"
    sends_per_second: float = Field(default=10.0, gt=0)
    # How long after a send attempt began the provider may still record it (a request it
    # took before the SDK gave up): a retry of an unanswered attempt waits this long, then
    # looks the message up, so it never races the attempt it checks.
    provider_landing_seconds: float = Field(default=LANDING_SECONDS, ge=TIMEOUT)
    # Sending numbers with a rate of their own, e.g. {"+13125550000": 1} (JSON): each gets
    # its own rate-limited queue; every other number shares SENDS_TASK_QUEUE.
    sender_rates: dict[str, float] = {}
    # The countries texts may go to (ISO 3166 codes, JSON): a text to any other country's
    # number fails for good at the send, so a form filled with premium-rate numbers cannot
    # run up the bill (SMS pumping).
    sms_countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = list(NORTH_AMERICA)
    # The most texts one account sends in any 24 hours (0: no limit): past it, its texts
    # wait and go as the window allows, so a flood of made-up leads cannot run up the bill.
    sms_daily_limit: int = Field(default=10_000, ge=0)
    # The Reassigned Numbers Database's query API (`leadflow.providers.reassigned`) and its
    # key: texts and agents' calls to US numbers are checked against it. Unset: not asked.
    rnd_url: str | None = None
    rnd_key: SecretStr | None = None

    # Payload encryption: `<id>:<base64 key>,...`, the key new payloads use first.
    encryption_keys: SecretStr | None = None
    # The credential ops present to the codec endpoint (a decode is a read of PII), in the
    # Authorization header only; at least TOKEN_MIN_LENGTH characters.
    ops_token: SecretStr | None = None
    # Origins of the Temporal Web UI allowed to call the codec endpoint from a browser;
    # each one exact: a wildcard would let any page read what the codec opens.
    codec_origins: list[str] = ["http://localhost:8233", "http://127.0.0.1:8233"]
    # The credential Prometheus presents to the API's /metrics (which names every account);
    # unset, /metrics is off.
    metrics_token: SecretStr | None = None
    # The worker refuses a signal, update or start whose payload ENCRYPTION_KEYS did not
    # seal (see leadflow/codec.py): anyone reaching Temporal could otherwise speak for a lead.
    require_sealed_payloads: bool = True

    def keyring(self) -> Keyring:
        """The encryption keys; a missing or malformed one is a ConfigError naming the setting."""
        return Keyring.parse(
            self.encryption_keys.get_secret_value() if self.encryption_keys else None
        )

    def temporal_tls_config(self) -> TLSConfig | bool:
        """What `Client.connect(tls=...)` takes; an unreadable file or a certificate without
        its key is a ConfigError naming the setting."""
        files = {
            "TEMPORAL_TLS_CA": self.temporal_tls_ca,
            "TEMPORAL_TLS_CERT": self.temporal_tls_cert,
            "TEMPORAL_TLS_KEY": self.temporal_tls_key,
        }
        if not any(files.values()) and not self.temporal_tls_server_name:
            return self.temporal_tls
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ConfigError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS)")
        read: dict[str, bytes | None] = {}
        for name, path in files.items():
            try:
                read[name] = Path(path).read_bytes() if path else None
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read {path} ({exc.strerror})") from None
        return TLSConfig(
            server_root_ca_cert=read["TEMPORAL_TLS_CA"],
            client_cert=read["TEMPORAL_TLS_CERT"],
            client_private_key=read["TEMPORAL_TLS_KEY"],
            domain=self.temporal_tls_server_name,
        )

    def deployment(self) -> WorkerDeploymentVersion | None:
        """The version a versioned worker runs as; None: unversioned."""
        if self.worker_deployment is None or self.worker_build_id is None:
            if self.worker_deployment or self.worker_build_id:
                raise ConfigError(
                    "WORKER_DEPLOYMENT and WORKER_BUILD_ID go together: set both, or neither"
                )
            return None
        return WorkerDeploymentVersion(self.worker_deployment, self.worker_build_id)

    def sender_queues(self) -> dict[str, str]:
        return {number: sender_queue(self.sends_task_queue, number) for number in self.sender_rates}

    def providers(self) -> ProviderConfig:
        """The provider settings the send worker needs; a missing one is a ConfigError."""
        missing = [name for name in PROVIDER_SETTINGS if not getattr(self, name.lower())]
        if missing:
            raise ConfigError(f"{missing[0]} is not set (the worker sends texts and emails)")
        assert self.twilio_auth_token is not None and self.sendgrid_api_key is not None
        return ProviderConfig(
            twilio_account_sid=str(self.twilio_account_sid),
            twilio_auth_token=self.twilio_auth_token.get_secret_value(),
            twilio_from=str(self.twilio_from),
            sendgrid_api_key=self.sendgrid_api_key.get_secret_value(),
            sendgrid_from=str(self.sendgrid_from),
            twilio_base_url=self.twilio_base_url,
            sendgrid_base_url=self.sendgrid_base_url,
            public_url=self.public_url,
            landing_seconds=self.provider_landing_seconds,
            sms_countries=tuple(self.sms_countries),
            sms_daily_limit=self.sms_daily_limit,
            rnd=self.rnd(),
        )

    def rnd(self) -> RndConfig | None:
        """The Reassigned Numbers Database, if RND_URL names one; its key must come with it."""
        if not self.rnd_url:
            return None
        if self.rnd_key is None or not self.rnd_key.get_secret_value():
            raise ConfigError("RND_KEY is not set (RND_URL names a Reassigned Numbers Database)")
        return RndConfig(url=self.rnd_url, key=self.rnd_key.get_secret_value())

    @field_validator(
        "ops_token",
        "metrics_token",
        "rnd_url",
        "rnd_key",
        "worker_deployment",
        "worker_build_id",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # compose's ${OPS_TOKEN:-} when none is given

    @field_validator("ops_token", "metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < TOKEN_MIN_LENGTH:
            raise ValueError(
                f"shorter than {TOKEN_MIN_LENGTH} characters; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @field_validator("codec_origins")
    @classmethod
    def _exact_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if "*" in origin:
                raise ValueError(f"{origin!r} is a wildcard; list each Web UI origin exactly")
        return value

    @field_validator("temporal_address", "metrics_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and not _HOST_PORT.match(value):
            raise ValueError(f"expected host:port such as localhost:7233, got {value!r}")
        return value


def sender_queue(sends_task_queue: str, number: str) -> str:
    return f"{sends_task_queue}-{number.lstrip('+')}"


@overload
def load_settings(**overrides: Any) -> Settings: ...


@overload
def load_settings(kind: type[S], **overrides: Any) -> S: ...


def load_settings(kind: type[DatabaseSettings] = Settings, **overrides: Any) -> DatabaseSettings:
    """Read settings, turning the first validation problem into a one-line ConfigError."""
    try:
        return kind(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        if first["type"] == "missing":
            hint = f" ({DEV_ENV_HINT})" if variable in DEV_ENV_SETS else ""
            raise ConfigError(f"{variable} is not set{hint}") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{variable} is invalid: {message}") from None

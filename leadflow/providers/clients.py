"""The real Twilio and SendGrid SDKs, optionally pointed at another base URL (the fake).

With real credentials and no base URL they talk to the real services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sendgrid import SendGridAPIClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioClient

from leadflow.providers.reassigned import RndConfig

TIMEOUT = 10.0
# How long after an attempt began a provider may still record it: a request it received
# before the SDK gave up can land later. A retry looks the message up only after this.
LANDING_SECONDS = 120.0
TWILIO_API = "https://api.twilio.com"


class _Rebased(TwilioHttpClient):
    """Sends the SDK's requests to `base_url` instead of api.twilio.com."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


# Where texts may go unless SMS_COUNTRIES says otherwise: the US with its territories that
# share its numbering plan, and Canada.
NORTH_AMERICA = ("US", "PR", "VI", "GU", "AS", "MP", "CA")


@dataclass(frozen=True)
class ProviderConfig:
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_from: str
    sendgrid_api_key: str
    sendgrid_from: str
    twilio_base_url: str | None = None
    sendgrid_base_url: str | None = None
    timeout: float = TIMEOUT
    public_url: str | None = None  # where Twilio posts status callbacks (our API)
    landing_seconds: float = LANDING_SECONDS
    sms_countries: tuple[str, ...] = NORTH_AMERICA  # where texts may go (ISO 3166 codes)
    sms_daily_limit: int = 0  # the most texts an account sends in 24 hours (0: no limit)
    rnd: RndConfig | None = None  # the Reassigned Numbers Database, when one is configured


def twilio_client(config: ProviderConfig) -> TwilioClient:
    if config.twilio_base_url:
        http = _Rebased(config.twilio_base_url, config.timeout)
        return TwilioClient(
            config.twilio_account_sid, config.twilio_auth_token, http_client=http, environment={}
        )
    return TwilioClient(
        config.twilio_account_sid,
        config.twilio_auth_token,
        http_client=TwilioHttpClient(timeout=config.timeout),
    )


def sendgrid_client(config: ProviderConfig) -> SendGridAPIClient:
    if config.sendgrid_base_url:
        return SendGridAPIClient(config.sendgrid_api_key, host=config.sendgrid_base_url)
    return SendGridAPIClient(config.sendgrid_api_key)

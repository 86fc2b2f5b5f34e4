"""Dates and names a lead could not hold, refused at the API's door (422) with what was
wrong, and an agenda bounded to 90 days."""

from __future__ import annotations

import httpx
import pytest

from tests.integration import test_api as served
from tests.integration.test_api import PAT

app, api, lead_path = served.app, served.api, served.lead_path  # the same app and key

BLANK_PARTY = {"parties": {"lead": {"name": "   ", "phone": "+13125550111"}}}
BLANK_MEMBER = {"assignments": {"agent": {"id": "ag-1", "name": "\u200b"}}}


@pytest.mark.parametrize(
    ("method", "suffix", "body", "message"),
    [
        ("put", "/key-dates", {"dates": {"requote_date": "0001-01-01"}}, "out of range"),
        ("put", "/key-dates", {"dates": {"requote_date": "9999-12-31"}}, "out of range"),
        ("put", "/parties", BLANK_PARTY, "no visible character"),
        ("put", "/designations", BLANK_MEMBER, "no visible character"),
        ("put", "/horizon", {"horizon": "9999-12-31", "request_id": "h-1"}, "out of range"),
        (
            "post",
            "/follow-ups",
            {"follow_up": {"start_at": "9999-12-31T23:00:00Z"}, "request_id": "f-1"},
            "out of range",
        ),
        ("post", "/campaigns", {"op": "start", "campaign": "winback", "actor": "x" * 500}, "100"),
    ],
)
async def test_a_fact_the_lead_could_not_hold_is_422_with_the_reason(
    api: httpx.AsyncClient,
    lead_path: str,
    method: str,
    suffix: str,
    body: dict[str, object],
    message: str,
) -> None:
    assert (await api.put(lead_path, json=PAT)).status_code == 201
    response = await getattr(api, method)(lead_path + suffix, json=body)
    assert response.status_code == 422, response.text
    assert message in response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_new_lead_with_a_blank_party_or_a_far_key_date_is_422(
    api: httpx.AsyncClient, lead_path: str
) -> None:
    blank = await api.put(lead_path, json=PAT | BLANK_PARTY)
    assert blank.status_code == 422 and "no visible character" in blank.text
    far = await api.put(lead_path, json=PAT | {"key_dates": {"requote_date": "0001-01-01"}})
    assert far.status_code == 422 and "out of range" in far.text
    assert (await api.get(lead_path)).status_code == 404


async def test_the_agenda_looks_at_most_90_days_ahead(
    api: httpx.AsyncClient, lead_path: str
) -> None:
    assert (await api.put(lead_path, json=PAT)).status_code == 201
    assert (await api.get(lead_path, params={"agenda_days": 90})).status_code == 200
    response = await api.get(lead_path, params={"agenda_days": 365})
    assert response.status_code == 422, response.text
    assert "90" in response.text

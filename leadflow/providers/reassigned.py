"""The FCC Reassigned Numbers Database (RND), asked through a query API.

The RND answers one question about a US number: has it been permanently disconnected (and
so may have been reassigned) on or after a date, the date the business last knew the number
was its lead's (the consent, the inquiry, the last reply)? Yes, no, or no data (a date
before the database's records begin, 27 January 2021). A caller that asks before calling
and hears "no" has the FCC's safe harbor (47 C.F.R. § 64.1200(m)).

The adapter speaks the query API resellers of the RND expose (`GET .../Data/RNDBasic` with
`phoneNumber`, ten digits, and `date`, YYYYMMDD; the key in the `loginId` header; the answer
`IsReassigned`: true, false or null). `RND_URL` points it at the service (or at the fake
provider server), `RND_KEY` is the key. The key travels in a header only, never the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import httpx

Answer = Literal["yes", "no", "no data"]
PATH = "/v1.5/Data/RNDBasic"
TIMEOUT = 10.0


class RndUnavailable(Exception):
    """The RND did not answer (network, 5xx, a refused key): the question stays open."""


@dataclass(frozen=True)
class RndConfig:
    url: str
    key: str
    timeout: float = TIMEOUT


def ten_digits(number: str) -> str:
    """A NANP number's ten digits, as the RND takes them (no leading 1 or +)."""
    digits = number.removeprefix("+1")
    if len(digits) != 10 or not digits.isdigit():
        raise ValueError(f"{number!r} is not a North American number")
    return digits


class ReassignedNumbers:
    """Asks the RND; one HTTP client for the process."""

    def __init__(self, config: RndConfig) -> None:
        self._config = config
        self._http = httpx.AsyncClient(
            base_url=config.url.rstrip("/"), timeout=config.timeout, headers={"loginId": config.key}
        )

    async def ask(self, number: str, since: date) -> Answer:
        """Whether `number` (E.164) was disconnected on or after `since`."""
        params = {"phoneNumber": ten_digits(number), "date": f"{since:%Y%m%d}"}
        try:
            response = await self._http.get(PATH, params=params)
        except httpx.HTTPError as exc:
            raise RndUnavailable(f"the RND did not answer ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise RndUnavailable(f"the RND refused RND_KEY (HTTP {response.status_code})")
        if response.status_code != 200:
            raise RndUnavailable(f"the RND answered HTTP {response.status_code}")
        try:
            found = response.json().get("IsReassigned")
        except (ValueError, AttributeError):
            raise RndUnavailable("the RND's answer was not JSON") from None
        return "yes" if found is True else "no" if found is False else "no data"

    async def close(self) -> None:
        await self._http.aclose()

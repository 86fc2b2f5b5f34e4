"""Replays hostile and clumsy requests against a running leadflow stack and prints each
one's answer; exits 1 if any was not refused as it should be.

    python scripts/replay_attacks.py              # starts `leadflow dev` in a temporary
                                                  # folder on free ports, then stops it
    python scripts/replay_attacks.py --data-dir .leadflow --url http://127.0.0.1:8000
                                                  # against a dev stack already running

Each attack is a function that sends what an attacker (or a careless client) would and
returns the answer's status and whether that answer is the refusal it must be. The setup
makes a second account ("intruder") and keys of each role through the stack's own CLI and
API, as an operator would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from dotenv import dotenv_values

DEMO_KEY = "lf_dev_demo_key"  # the dev stack's demo account (admin)
DEMO_NUMBER = "+13125550123"  # a sending number the operator gives the demo account
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "a long enough password"


@dataclass
class Stack:
    url: str
    env: dict[str, str]  # the stack's DATABASE_URL and friends, for the CLI
    secrets: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)

    def api(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    def browser(self, cookie: str = "") -> Browser:
        return Browser(self.url, cookie)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leadflow", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            input=stdin,
            timeout=120,
            check=False,
        )


class Browser(httpx.AsyncClient):
    """Keeps the workspace's session cookie as a browser on localhost does: the cookie is
    Secure, which httpx would not send back over plain http to the loopback stack."""

    def __init__(self, url: str, cookie: str = "") -> None:
        self.cookie = cookie
        super().__init__(
            base_url=url,
            timeout=30,
            event_hooks={"request": [self._send], "response": [self._keep]},
        )

    async def _send(self, request: httpx.Request) -> None:
        if self.cookie:
            request.headers["Cookie"] = f"leadflow_session={self.cookie}"

    async def _keep(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == "leadflow_session":
                self.cookie = rest.split(";", 1)[0]


Outcome = tuple[int, bool]  # the answer's status, and whether it is the refusal expected
Attack = Callable[[Stack], Awaitable[Outcome]]
ATTACKS: list[tuple[str, Attack]] = []


def attack(name: str) -> Callable[[Attack], Attack]:
    def register(function: Attack) -> Attack:
        ATTACKS.append((name, function))
        return function

    return register


# ---- access ---------------------------------------------------------------------------------


async def _sign_in(browser: Browser, account: str, user: str, password: str) -> int:
    page = await browser.get("/app/sign-in")
    token = CSRF.search(page.text)
    form = {
        "account": account,
        "agent": user,
        "password": password,
        "csrf": token[1] if token else "",
    }
    answer = await browser.post("/app/sign-in", data=form)
    return answer.status_code


async def _signed_in(browser: Browser) -> bool:
    return (await browser.get("/app/", follow_redirects=False)).status_code == 200


@attack("the workspace with the account's API key as a password")
async def key_as_password(stack: Stack) -> Outcome:
    async with stack.browser() as browser:
        status = await _sign_in(browser, "demo", "isa-1", DEMO_KEY)
        return status, not await _signed_in(browser)


@attack("the workspace as another user with their user id alone")
async def user_id_alone(stack: Stack) -> Outcome:
    async with stack.browser() as browser:
        status = await _sign_in(browser, "demo", "boss", "")
        return status, status in (303, 422) and not await _signed_in(browser)


@attack("a signed-out session's cookie, replayed")
async def replayed_cookie(stack: Stack) -> Outcome:
    async with stack.browser() as browser:
        await _sign_in(browser, "demo", "ana", PASSWORD)
        if not await _signed_in(browser):
            raise RuntimeError("the right password did not sign ana in")
        copied = browser.cookie
        page = await browser.get("/app/")
        token = CSRF.search(page.text)
        await browser.post("/app/sign-out", data={"csrf": token[1] if token else ""})
    async with stack.browser(copied) as thief:
        answer = await thief.get("/app/", follow_redirects=False)
    return answer.status_code, answer.status_code == 303


@attack("an agent key making an admin key")
async def agent_mints_admin(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["agent"]) as api:
        answer = await api.post("/v1/keys", json={"name": "mine now", "role": "admin"})
    return answer.status_code, answer.status_code == 403


@attack("an agent key reading the reports and changing the team")
async def agent_reads_reports(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["agent"]) as api:
        report = await api.get("/v1/reports/unlinked")
        team = await api.put("/v1/users/ana", json={"name": "Ana", "role": "admin"})
    return report.status_code, report.status_code == 403 and team.status_code == 403


@attack("a manager key setting an admin's password")
async def manager_takes_over(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["manager"]) as api:
        answer = await api.put("/v1/users/boss/password", json={"password": "now it is mine!"})
    return answer.status_code, answer.status_code == 403


@attack("a manager key making a user admin")
async def manager_promotes(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["manager"]) as api:
        answer = await api.put("/v1/users/ana", json={"name": "Ana", "role": "admin"})
    return answer.status_code, answer.status_code == 403


@attack("a revoked key")
async def revoked_key(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["revoked"]) as api:
        answer = await api.get("/v1/leads")
    return answer.status_code, answer.status_code == 401


@attack("another account's key revoking the demo account's key")
async def foreign_revoke(stack: Stack) -> Outcome:
    from leadflow.store.accounts import key_id

    async with stack.api(stack.keys["intruder"]) as api:
        answer = await api.post(f"/v1/keys/{key_id(DEMO_KEY)}/revoke")
    return answer.status_code, answer.status_code == 404


@attack("texting from another account's number (a member's sms_from)")
async def spoofed_sender(stack: Stack) -> Outcome:
    member = {"id": "x", "name": "Mallory", "sms_from": DEMO_NUMBER}
    lead = {
        "first_name": "Pat",
        "time_zone": "America/Chicago",
        "parties": {"borrower": {"name": "Pat", "phone": "+13125550199", "sms_consent": True}},
        "designations": {"isa": member},
    }
    async with stack.api(stack.keys["intruder"]) as api:
        answer = await api.put("/v1/leads/spoof-1", json=lead)
    return answer.status_code, answer.status_code == 422


@attack("a lead started on a shipped preset instead of the account's own playbook")
async def other_preset(stack: Stack) -> Outcome:
    lead = {"first_name": "Pat", "time_zone": "America/Chicago", "playbook": "mortgage"}
    async with stack.api(stack.keys["intruder"]) as api:
        answer = await api.put("/v1/leads/preset-1", json=lead)
    return answer.status_code, answer.status_code == 422


@attack("guessing a user's password (the right one after five wrong)")
async def guessing(stack: Stack) -> Outcome:
    async with stack.browser() as browser:
        for n in range(5):
            await _sign_in(browser, "demo", "ana", f"guess {n} of many")
        status = await _sign_in(browser, "demo", "ana", PASSWORD)
        return status, status == 429 and not await _signed_in(browser)


# ---- what a provider signs, and the lead's words ------------------------------------------

LEAD_PHONE, LEAD_EMAIL = "+13125550177", "pat.replay@example.com"
FORM = "application/x-www-form-urlencoded"


async def _opt_outs(stack: Stack) -> int:
    """Every opt-out on record, in any account (read as the operator would)."""
    from sqlalchemy import text

    from leadflow.store.db import create_engine

    engine = create_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM opt_outs"))).scalar_one())
    finally:
        await engine.dispose()


def _twilio_signed(stack: Stack, path: str, form: dict[str, str]) -> dict[str, str]:
    from twilio.request_validator import RequestValidator

    from leadflow.providers.fake import FakeState

    signature = RequestValidator(FakeState.auth_token).compute_signature(stack.url + path, form)
    return {"X-Twilio-Signature": signature, "content-type": FORM}


@attack("a SendGrid bounce for another account's lead, signed, posted on one's own path")
async def foreign_bounce(stack: Stack) -> Outcome:
    import json

    from leadflow.providers.fake import EventSigner

    before = await _opt_outs(stack)
    body = json.dumps([{"email": LEAD_EMAIL, "event": "bounce", "sg_event_id": "replay-1"}])
    signer = EventSigner(stack.secrets["SENDGRID_WEBHOOK_SIGNING_KEY"])
    async with stack.api() as api:
        answer = await api.post(
            "/webhooks/sendgrid/intruder/events", content=body, headers=signer.headers(body)
        )
    return answer.status_code, answer.status_code == 204 and await _opt_outs(stack) == before


@attack("a Twilio inbound STOP with a forged signature")
async def forged_inbound(stack: Stack) -> Outcome:
    form = {"From": LEAD_PHONE, "To": "+13125550000", "Body": "STOP", "MessageSid": "SMr1"}
    async with stack.api() as api:
        answer = await api.post(
            "/webhooks/twilio/sms",
            content=urlencode(form),
            headers={
                "X-Twilio-Signature": "forged",
                "content-type": "application/x-www-form-urlencoded",
            },
        )
    return answer.status_code, answer.status_code == 403


@attack("a Twilio inbound STOP from a number nobody texted, signed")
async def stranger_stop(stack: Stack) -> Outcome:
    before = await _opt_outs(stack)
    form = {"From": "+13125550166", "To": "+13125550000", "Body": "STOP", "MessageSid": "SMr2"}
    path = "/webhooks/twilio/sms"
    async with stack.api() as api:
        answer = await api.post(
            path, content=urlencode(form), headers=_twilio_signed(stack, path, form)
        )
    return answer.status_code, answer.is_success and await _opt_outs(stack) == before


@attack("a webhook body that is not UTF-8, unsigned")
async def not_utf8(stack: Stack) -> Outcome:
    async with stack.api() as api:
        answer = await api.post(
            "/webhooks/twilio/sms",
            content=b"Body=%FF&From=\xff\xfe",
            headers={"content-type": FORM},
        )
    return answer.status_code, answer.status_code == 403


@attack("an email reply posted to Inbound Parse's path, unsigned")
async def unsigned_email_reply(stack: Stack) -> Outcome:
    form = {"from": LEAD_EMAIL, "to": "replies@example.com", "text": "STOP", "headers": ""}
    async with stack.api() as api:
        answer = await api.post(
            "/webhooks/sendgrid/inbound", files={k: (None, v) for k, v in form.items()}
        )
    return answer.status_code, answer.status_code == 403


@attack("another account's lead's conversation, read and written to with one's own key")
async def foreign_thread(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["intruder"]) as api:
        read = await api.get("/v1/leads/replay-1/thread")
        wrote = await api.post(
            "/v1/leads/replay-1/messages", json={"body": "hi", "request_id": "intruder-1"}
        )
    return read.status_code, read.status_code == 404 and wrote.status_code == 404


@attack("START posted through the API as if the lead had said it")
async def start_by_api(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["intruder"]) as api:
        await api.put("/v1/leads/words-1", json=_lead_body())
        answer = await api.post("/v1/leads/words-1/replies", json={"body": "START"})
    return answer.status_code, answer.status_code == 422


@attack("an opt-in through the API with no evidence")
async def opt_in_without_evidence(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["intruder"]) as api:
        await api.put("/v1/leads/words-1", json=_lead_body())
        answer = await api.post(
            "/v1/leads/words-1/opt-in",
            json={"channel": "sms", "party": "borrower", "evidence": " ", "actor": "x"},
        )
    return answer.status_code, answer.status_code == 422


def _lead_body() -> dict[str, object]:
    return {
        "first_name": "Pat",
        "time_zone": "America/Chicago",
        "parties": {"borrower": {"name": "Pat", "phone": LEAD_PHONE, "email": LEAD_EMAIL}},
    }


@attack("a signed SendGrid body that is not UTF-8, or not events")
async def signed_junk(stack: Stack) -> Outcome:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_der_private_key(
        base64.b64decode(stack.secrets["SENDGRID_WEBHOOK_SIGNING_KEY"]), None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    statuses = []
    async with stack.api() as api:
        for payload in (b'[{"event": "bounce", "email": "\xff"}]', b"[1]", b"bounce"):
            stamp = str(int(time.time()))
            signature = key.sign(stamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
            headers = {
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                "content-type": "application/json",
            }
            answer = await api.post("/webhooks/sendgrid/events", content=payload, headers=headers)
            statuses.append(answer.status_code)
    return statuses[0], statuses == [400, 400, 400]


# ---- input that would stick a lead ----------------------------------------------------------


@attack("dates a lead cannot hold (horizon 9999-12-31, follow-up in year 9999)")
async def far_dates(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["intruder"]) as api:
        await api.put("/v1/leads/words-1", json=_lead_body())
        horizon = await api.put(
            "/v1/leads/words-1/horizon", json={"horizon": "9999-12-31", "request_id": "h-9"}
        )
        follow_up = await api.post(
            "/v1/leads/words-1/follow-ups",
            json={"follow_up": {"start_at": "9999-12-31T23:00:00Z"}, "request_id": "f-9"},
        )
    return horizon.status_code, horizon.status_code == follow_up.status_code == 422


@attack("a party whose name is only spaces")
async def blank_name(stack: Stack) -> Outcome:
    party = {"parties": {"borrower": {"name": "   ", "phone": LEAD_PHONE}}}
    async with stack.api(stack.keys["intruder"]) as api:
        await api.put("/v1/leads/words-1", json=_lead_body())
        answer = await api.put("/v1/leads/words-1/parties", json=party)
    return answer.status_code, answer.status_code == 422


@attack("a lead's agenda a year ahead (10,000 decisions on the shared worker)")
async def long_agenda(stack: Stack) -> Outcome:
    async with stack.api(stack.keys["intruder"]) as api:
        await api.put("/v1/leads/words-1", json=_lead_body())
        answer = await api.get("/v1/leads/words-1?agenda_days=365")
    return answer.status_code, answer.status_code == 422


@attack("a migration chosen by a raw query that widens past the account")
async def raw_migration_query(stack: Stack) -> Outcome:
    body = {"to_version": 1, "leads": 'LeadStatus = "New" OR LeadAccount != ""'}
    async with stack.api(DEMO_KEY) as api:
        answer = await api.post("/v1/playbook/migrations", json=body)
    return answer.status_code, answer.status_code == 422


@attack("a playbook whose text template asks for a gigabyte")
async def template_bomb(stack: Stack) -> Outcome:
    import yaml

    from leadflow.paths import shipped

    book = yaml.safe_load((shipped("playbooks") / "isa.yaml").read_text())
    name = next(iter(book["templates"]))
    book["templates"][name]["body"] = "{{ 'x' * 10**9 }}"
    book["version"] = 99
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "isa.yaml"
        file.write_text(yaml.safe_dump(book))
        began = time.monotonic()
        made = stack.cli("account", "intruder", "--playbook", str(file))
        took = time.monotonic() - began
    return made.returncode, made.returncode != 0 and "template" in made.stderr and took < 60


# ---- ops ------------------------------------------------------------------------------------


@attack("/metrics with no credential, and with an API key")
async def metrics_open(stack: Stack) -> Outcome:
    async with stack.api() as api:
        bare = await api.get("/metrics")
    async with stack.api(DEMO_KEY) as api:
        keyed = await api.get("/metrics")
    return bare.status_code, bare.status_code in (401, 404) and keyed.status_code in (401, 404)


@attack("the ops token in a URL (the old codec path)")
async def token_in_url(stack: Stack) -> Outcome:
    async with stack.api() as api:
        answer = await api.post(
            f"/codec/ops/{stack.secrets['OPS_TOKEN']}/decode", json={"payloads": []}
        )
    return answer.status_code, answer.status_code == 404


@attack("the codec with an API key instead of the ops token")
async def codec_by_key(stack: Stack) -> Outcome:
    async with stack.api(DEMO_KEY) as api:
        answer = await api.post("/codec/decode", json={"payloads": []})
    return answer.status_code, answer.status_code == 401


@attack("a lead's page kept by a cache, or framed by another site")
async def cached_or_framed(stack: Stack) -> Outcome:
    async with stack.api(DEMO_KEY) as api:
        leads = await api.get("/v1/leads")
        page = await api.get("/app/sign-in")
    kept = "no-store" not in leads.headers.get("cache-control", "")
    framed = "frame-ancestors 'none'" not in page.headers.get("content-security-policy", "")
    return leads.status_code, not kept and not framed


@attack("an opt-in signalled to a lead straight through Temporal, unsealed")
async def unsealed_signal(stack: Stack) -> Outcome:
    from temporalio.client import Client

    async with stack.api(DEMO_KEY) as api:
        stopped = await api.post("/v1/leads/replay-1/replies", json={"body": "STOP"})
        await asyncio.sleep(2)
        before = (await api.get("/v1/leads/replay-1")).json()["audit"]
        temporal = await Client.connect(
            stack.env["TEMPORAL_ADDRESS"], namespace=stack.env.get("TEMPORAL_NAMESPACE", "default")
        )
        await temporal.get_workflow_handle("lead:demo:replay-1").signal(
            "opt_in", {"type": "opted_in", "channel": "sms"}
        )
        await asyncio.sleep(3)
        after = await api.get("/v1/leads/replay-1")
        # The control: the same opt-in, recorded through the API with its evidence, lands.
        proper = {"channel": "sms", "party": "borrower", "evidence": "replay", "actor": "ops"}
        await api.post("/v1/leads/replay-1/opt-in", json=proper)
        await asyncio.sleep(3)
        control = await api.get("/v1/leads/replay-1")

    def opted_in(view: httpx.Response) -> bool:
        return any(a not in before and "opted back in" in str(a) for a in view.json()["audit"])

    refused = stopped.status_code == 202 and not opted_in(after) and opted_in(control)
    return after.status_code, refused


# ---- the run --------------------------------------------------------------------------------


async def _setup(stack: Stack) -> None:
    made = stack.cli("account", "intruder", "--playbook", "isa", "--key")
    if made.returncode:
        raise SystemExit(f"setup: leadflow account intruder: {made.stderr.strip()}")
    stack.keys["intruder"] = made.stdout.strip()
    stack.cli("sender", "add", "demo", DEMO_NUMBER)
    async with stack.api(DEMO_KEY) as api:
        for role in ("agent", "manager"):
            answer = await api.post("/v1/keys", json={"name": f"replay {role}", "role": role})
            answer.raise_for_status()
            stack.keys[role] = answer.json()["key"]
        answer = await api.post("/v1/keys", json={"name": "replay revoked", "role": "agent"})
        stack.keys["revoked"] = answer.json()["key"]
        await api.post(f"/v1/keys/{answer.json()['record']['id']}/revoke")
        # A lead of the demo account's own, whose address others will try to speak for.
        (await api.put("/v1/leads/replay-1", json=_lead_body())).raise_for_status()
        for user, role in (("boss", "admin"), ("ana", "agent")):
            (
                await api.put(f"/v1/users/{user}", json={"name": user, "role": role})
            ).raise_for_status()
            await api.put(f"/v1/users/{user}/password", json={"password": PASSWORD})


async def replay(stack: Stack) -> int:
    await _setup(stack)
    failed = 0
    width = max(len(name) for name, _ in ATTACKS)
    for name, run in ATTACKS:
        try:
            status, refused = await run(stack)
            said = "refused" if refused else "NOT REFUSED"
        except Exception as exc:  # an attack that breaks the script is a failure too
            status, refused, said = 0, False, f"ERROR {type(exc).__name__}: {exc}"
        failed += not refused
        print(f"{name:<{width}}  {status:>3}  {said}", flush=True)
    print(f"{len(ATTACKS) - failed} of {len(ATTACKS)} refused", flush=True)
    return 1 if failed else 0


def _free_port() -> int:
    """A free port below the kernel's ephemeral range (32768 and up): the ports the stack's
    own children bind as they start (the Temporal dev server's, the UI codec's) come from
    that range, and one of them could take a port chosen there before the API binds it."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@contextlib.contextmanager
def _dev_stack(folder: Path) -> Iterator[str]:
    """`leadflow dev` in `folder` on free ports, stopped (with everything it started) after."""
    ports = {name: _free_port() for name in ("api", "temporal", "ui", "providers", "metrics")}
    log = open(folder / "dev.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "leadflow", "dev", "--no-demo"),
            *("--data-dir", str(folder / "data")),
            *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        deadline = time.monotonic() + 180
        while "leadflow dev is up" not in (folder / "dev.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "the dev stack did not start:\n" + (folder / "dev.log").read_text()
                )
            time.sleep(0.5)
        yield f"http://127.0.0.1:{ports['api']}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running stack's API (default: start one)")
    parser.add_argument("--data-dir", type=Path, help="that stack's data folder (dev.env)")
    options = parser.parse_args()

    def run(url: str, data: Path) -> int:
        env = {k: v for k, v in dotenv_values(data / "dev.env").items() if v}
        secrets = {k: v for k, v in dotenv_values(data / "secrets.env").items() if v}
        return asyncio.run(replay(Stack(url=url, env=env, secrets=secrets)))

    if options.url:
        return run(options.url, options.data_dir or Path(".leadflow"))
    with (
        tempfile.TemporaryDirectory(prefix="leadflow-replay-") as folder,
        _dev_stack(Path(folder)) as url,
    ):
        return run(url, Path(folder) / "data")


if __name__ == "__main__":
    sys.exit(main())

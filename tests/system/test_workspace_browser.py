"""The agent's workspace in a real browser (Chromium driven by Playwright): an agent signs
in, takes the next call, logs No Answer and sees the lead leave the queue with its return
time, records a consent the borrower signed (a form without its evidence is refused, with
the reason), logs Engaged with a follow-up and sees it listed, and is refused a milestone its
status is not linked to, with the reason. A screenshot of each screen is written to
`build/screenshots/`. A lead unsubscribes from the link in an email; agents take offers
first to claim; an agent reads a reply in the lead's conversation and answers it; a manager
opens the leads of an invalid milestone and status combination from the dashboard.

Chromium is Debian's (`apt-get install chromium`; `.ci/run` installs it): Playwright's own
browser download needs the internet.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.passwords import hash_password
from leadflow.engine import localtime
from leadflow.paths import shipped
from leadflow.playbook.schema import Playbook
from leadflow.store import unsubscribe
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.playbooks import save_version
from leadflow.store.tables import OptOut
from leadflow.store.users import save_user, set_password
from tests.factories import eventually
from tests.places import Place
from tests.services import ProvidersUnderTest, api_and_worker, worker_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
AGENT_ZONE = "America/New_York"
ANA_PASSWORD = "correct horse battery"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium: apt-get install chromium (Debian's package)"
)


def _workspace_playbook(place: Place) -> Playbook:
    """The leads-queue preset (No Answer: back in an hour as a Redial) with a Closed
    milestone that only Converted goes with, open where the lead lives now."""
    data = yaml.safe_load((shipped("playbooks") / "leads-queue.yaml").read_text())
    data["milestones"] = [*data["milestones"], "Closed"]
    data["links"]["Closed"] = ["Converted"]
    data["version"] = int(data.get("version", 1)) + 1
    return place.playbook(Playbook.model_validate(data))


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def test_an_agent_works_the_queue_in_the_browser(
    browser: object,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    from playwright.async_api import Browser, expect

    assert isinstance(browser, Browser)
    place = Place.where_it_is(12)  # the new lead is due to be called at once
    account = f"ws-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        dev_address,
        database_url,
        providers,
        account,
        place.playbook_folder(tmp_path / "playbooks", "leads-queue"),
    )
    await ensure_account(db, account, "Workspace", "leads-queue")
    await save_version(db, account, _workspace_playbook(place))
    await save_user(db, account, "ana", "Ana Agent", None, None, ["isa"])
    await set_password(db, account, "ana", await hash_password(ANA_PASSWORD))
    key = await new_api_key(db, account)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with api_and_worker(env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            created = await api.put(
                "/v1/leads/W-1",
                headers={"Authorization": f"Bearer {key}"},
                json={"first_name": "Wren", **place.lead_fields(name="Wren Lee")},
            )
        assert created.status_code == 201, created.text
        context = await browser.new_context(
            timezone_id=AGENT_ZONE, viewport={"width": 1200, "height": 900}
        )
        page = await context.new_page()

        async def shot(name: str) -> None:
            await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

        # Sign in: the page sends the browser's own zone with the form.
        await page.goto(f"{url}/app/")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await shot("1-sign-in")
        await page.get_by_label("Account", exact=True).fill(account)
        await page.get_by_label("Your user id").fill("ana")
        await page.get_by_label("Password").fill(ANA_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Leads queue")).to_be_visible()
        await expect(page.get_by_text(f"times in {AGENT_ZONE}")).to_be_visible()
        due = page.get_by_role("region", name="Next call")
        await expect(due).to_contain_text("W-1 CallASAP priority 100")
        await expect(due).to_contain_text("New lead")
        await shot("2-queue")

        # The next call: the new lead, CallASAP.
        await page.get_by_role("button", name="Take the next call").click()
        await expect(page.get_by_role("heading", name="Wren")).to_be_visible()
        # Given back unlogged, it is the next call again.
        await page.get_by_role("button", name="Give the call back unlogged").click()
        await expect(page.get_by_role("status")).to_contain_text("back in the queue for anyone")
        await page.get_by_role("button", name="Take the next call").click()
        await expect(page.get_by_role("heading", name="Wren")).to_be_visible()
        await shot("3-claimed-lead")

        # No Answer: the lead leaves the queue, back as a Redial in an hour.
        await page.get_by_label("Disposition").select_option("No Answer")
        await page.get_by_role("button", name="Save the call").click()
        logged = page.get_by_role("status").filter(has_text="Logged No Answer for W-1")
        await expect(logged).to_be_visible()
        back = datetime.now(localtime.zone(AGENT_ZONE)) + timedelta(hours=1)
        await expect(logged).to_contain_text("now Contact Attempted, back in the queue as Redial")
        await expect(logged).to_contain_text(f"{back:%a %d %b} ")
        upcoming = page.get_by_role("region", name="Coming up")
        await expect(upcoming).to_contain_text("W-1")
        await expect(upcoming).to_contain_text("held after the last call")
        await page.get_by_role("button", name="Take the next call").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "No call is due now. Next: Redial for W-1"
        )
        await shot("4-after-no-answer")

        # Engaged, with a follow-up tomorrow at 10:00 the agent's time: listed on the lead.
        await page.goto(f"{url}/app/leads/W-1")
        who = page.get_by_role("region", name="Who may be contacted")  # whatever the place
        await expect(who).to_contain_text("borrower consented to sms (marketing, written: web form")
        await expect(who).to_contain_text(f"borrower {place.sample[:-2]}")
        await expect(who).to_contain_text("Inquiry: ")
        # The borrower signs a consent to calls too on the call: the agent records it.
        await who.get_by_text("Record a consent").click()
        await page.get_by_label("How it was given").select_option("web_form")
        await page.get_by_label("The words they agreed to").fill("Disclosure v3 (texts)")
        await page.get_by_label("The business the consent names").fill("Workspace Realty")
        await page.get_by_role("button", name="Record the consent").click()
        await expect(page.get_by_role("alert")).to_contain_text(
            "Not recorded: a web_form consent names the form: give form_url"
        )
        await who.get_by_text("Record a consent").click()
        await page.get_by_label("How it was given").select_option("signature")
        await page.get_by_label("Calls", exact=True).check()
        await page.get_by_label("The words they agreed to").fill("Disclosure v3 (texts)")
        await page.get_by_label("The business the consent names").fill("Workspace Realty")
        await page.get_by_role("button", name="Record the consent").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "borrower's consent to sms, call is recorded (written)"
        )
        await expect(who).to_contain_text(
            "borrower consented to call, sms (marketing, written: signature"
        )
        await shot("5-consent")
        await page.get_by_label("Disposition").select_option("Engaged")
        await page.get_by_label("Schedule a follow-up").check()
        await page.get_by_label("Subject", exact=True).select_option("Quote")
        tomorrow = (datetime.now(localtime.zone(AGENT_ZONE)) + timedelta(days=1)).date()
        await page.get_by_label(f"Start (your time, {AGENT_ZONE})").fill(f"{tomorrow}T10:00")
        await page.get_by_label("Duration").select_option("30")
        await page.get_by_role("button", name="Save the call").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Logged Engaged for W-1: now Engaged"
        )
        follow_ups = page.get_by_role("region", name="Follow-ups")
        await expect(follow_ups).to_contain_text("Quote")
        await expect(follow_ups).to_contain_text(f"{tomorrow:%a %d %b} 10:00 your time")
        await expect(follow_ups).to_contain_text("30 min")
        await shot("6-follow-up")

        # Closed goes only with Converted: keeping Engaged is refused, with the reason.
        await page.get_by_label("Milestone", exact=True).select_option("Closed")
        status = page.get_by_label("Status (those linked to the milestone)")
        await expect(status.locator("option")).to_have_text(["Keep Engaged", "Converted"])
        await page.get_by_role("button", name="Update").click()
        refused = page.get_by_role("alert")
        await expect(refused).to_contain_text("Refused:")
        await expect(refused).to_contain_text("Engaged")
        await expect(refused).to_contain_text("Closed")
        await shot("7-refused")

        # A phone-sized screen: the same page, one column.
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{url}/app/")
        await expect(page.get_by_role("button", name="Take the next call")).to_be_visible()
        await shot("8-phone-queue")
        await context.close()


async def test_an_email_recipient_unsubscribes_in_the_browser(
    browser: object,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    """The link in an email, followed in a browser: a page that changes nothing until its
    button is pressed; then the address is opted out and the lead told."""
    from playwright.async_api import Browser, expect

    assert isinstance(browser, Browser)
    place = Place.where_it_is(12)
    account = f"un-{uuid.uuid4().hex[:6]}"
    email = "wren@example.com"
    env = worker_env(
        dev_address,
        database_url,
        providers,
        account,
        place.playbook_folder(tmp_path / "playbooks", "leads-queue"),
    )
    await ensure_account(db, account, "Acme Mortgage", "leads-queue")
    key = await new_api_key(db, account)
    token = await unsubscribe.token_for(db, account, email)  # as the first email made it
    with api_and_worker(env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            created = await api.put(
                "/v1/leads/U-1",
                headers={"Authorization": f"Bearer {key}"},
                json=place.lead_fields(name="Wren Lee", email=email),
            )
            assert created.status_code == 201, created.text
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{url}/unsubscribe/{token}")
            await expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
            await expect(page.get_by_text("Stop emails from Acme Mortgage to w***")).to_be_visible()
            assert await _email_opt_outs(db, account) == 0  # following the link changed nothing
            await page.get_by_role("button", name="Unsubscribe").click()
            await expect(page.get_by_role("status")).to_contain_text(
                "will get no more emails from Acme Mortgage"
            )
            assert await _email_opt_outs(db, account) == 1

            async def told() -> bool:
                view = await api.get("/v1/leads/U-1", headers={"Authorization": f"Bearer {key}"})
                return any(
                    a["reason"].startswith("opted out of email") for a in view.json()["audit"]
                )

            assert await eventually(told)


async def _email_opt_outs(db: AsyncEngine, account: str) -> int:
    async with db.connect() as conn:
        query = select(func.count()).where(OptOut.account_id == account, OptOut.channel == "email")
        return int((await conn.execute(query)).scalar_one())


async def test_agents_take_offers_first_to_claim_in_the_browser(
    browser: object,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    """Two agents see a new lead offered on "Your leads" with the time left; the first to
    accept takes it and the other is told who did; an agent who switched to away is
    offered nothing."""
    from playwright.async_api import Browser, Page, expect

    assert isinstance(browser, Browser)
    place = Place.where_it_is(12)
    account = f"ws-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        dev_address,
        database_url,
        providers,
        account,
        place.playbook_folder(tmp_path / "playbooks", "leads-queue"),
    )
    await ensure_account(db, account, "Workspace", "leads-queue")
    data = _workspace_playbook(place).model_dump(mode="json")
    data["routing"] = {
        "rules": [{"name": "claim", "designation": "isa", "mode": "first_to_claim",
                   "claim_window": "10m"}]
    }  # fmt: skip
    await save_version(db, account, Playbook.model_validate(data))
    for user in ("ana", "bo"):
        await save_user(db, account, user, f"{user.title()} Agent", None, None, ["isa"])
        await set_password(db, account, user, await hash_password(ANA_PASSWORD))
    key = await new_api_key(db, account)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with api_and_worker(env) as url:

        async def new(lead_id: str) -> None:
            async with httpx.AsyncClient(base_url=url, timeout=30) as api:
                created = await api.put(
                    f"/v1/leads/{lead_id}",
                    headers={"Authorization": f"Bearer {key}"},
                    json={"first_name": "Otto", **place.lead_fields(name="Otto Lee")},
                )
            assert created.status_code == 201, created.text

        async def signed_in(user: str) -> Page:
            context = await browser.new_context(
                timezone_id=AGENT_ZONE, viewport={"width": 1200, "height": 900}
            )
            page = await context.new_page()
            await page.goto(f"{url}/app/mine")
            await page.get_by_label("Account", exact=True).fill(account)
            await page.get_by_label("Your user id").fill(user)
            await page.get_by_label("Password").fill(ANA_PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("heading", name="Your leads")).to_be_visible()
            return page

        async def offered(page: Page, lead_id: str) -> None:
            offers = page.get_by_role("region", name="Offers")
            for _ in range(40):  # the offer appears once the lead's routing has run
                if await offers.get_by_text(lead_id).count():
                    break
                await page.wait_for_timeout(250)
                await page.reload()
            await expect(offers).to_contain_text(lead_id)

        ana, bo = await signed_in("ana"), await signed_in("bo")
        await bo.get_by_role("button", name="Go away").click()
        await expect(bo.get_by_role("status")).to_contain_text("You are away")
        await new("O-1")
        await offered(ana, "O-1")
        await bo.reload()
        await expect(bo.get_by_role("region", name="Offers")).to_contain_text(
            "No offer stands for you."
        )
        await bo.screenshot(path=SCREENSHOTS / "9-away-no-offers.png", full_page=True)
        await bo.get_by_role("button", name="I am back").click()
        await expect(bo.get_by_role("status")).to_contain_text("You are available")

        await new("O-2")
        await offered(ana, "O-2")
        await offered(bo, "O-2")
        await expect(ana.get_by_role("region", name="Offers")).to_contain_text("min")
        await ana.screenshot(path=SCREENSHOTS / "10-offers.png", full_page=True)
        await ana.get_by_role("button", name="Accept lead O-2").click()
        await expect(ana.get_by_role("status")).to_contain_text("Lead O-2 is yours.")
        await expect(ana.get_by_role("heading", name="Otto")).to_be_visible()
        await bo.get_by_role("button", name="Accept lead O-2").click()
        await expect(bo.get_by_role("alert")).to_contain_text(
            "Lead O-2 is not yours to take: ana took it first."
        )
        await expect(bo.get_by_role("region", name="Offers")).not_to_contain_text("O-2")
        await bo.screenshot(path=SCREENSHOTS / "11-taken-by-another.png", full_page=True)
        await ana.goto(f"{url}/app/mine")
        await expect(ana.get_by_role("region", name="My leads")).to_contain_text("O-2")


async def test_an_agent_reads_a_reply_in_the_conversation_and_answers_it_in_the_browser(
    browser: object,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    """A lead's reply shows in its conversation on the lead's page; the agent writes back
    from the page and the text reaches the provider once, its delivery in the thread."""
    from playwright.async_api import Browser, expect

    assert isinstance(browser, Browser)
    place = Place.where_it_is(12)
    account = f"ws-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        dev_address,
        database_url,
        providers,
        account,
        place.playbook_folder(tmp_path / "playbooks", "leads-queue"),
    )
    await ensure_account(db, account, "Workspace", "leads-queue")
    await save_version(db, account, _workspace_playbook(place))
    await save_user(db, account, "ana", "Ana Agent", None, None, ["isa"])
    await set_password(db, account, "ana", await hash_password(ANA_PASSWORD))
    key = await new_api_key(db, account)
    answer = f"Ana here: 10 tomorrow works ({uuid.uuid4().hex[:6]})"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with api_and_worker(env) as url:
        async with httpx.AsyncClient(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}
        ) as api:
            created = await api.put(
                "/v1/leads/T-1", json={"first_name": "Tess", **place.lead_fields(name="Tess Lee")}
            )
            assert created.status_code == 201, created.text
            replied = await api.post(
                "/v1/leads/T-1/replies", json={"body": "Can we talk tomorrow at 10?"}
            )
            assert replied.status_code == 202, replied.text
        context = await browser.new_context(
            timezone_id=AGENT_ZONE, viewport={"width": 1200, "height": 900}
        )
        page = await context.new_page()
        await page.goto(f"{url}/app/leads/T-1")
        await page.get_by_label("Account", exact=True).fill(account)
        await page.get_by_label("Your user id").fill("ana")
        await page.get_by_label("Password").fill(ANA_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        conversation = page.get_by_role("region", name="Conversation")
        await expect(conversation).to_contain_text("Can we talk tomorrow at 10?")
        await expect(conversation).to_contain_text("borrower wrote")
        await page.screenshot(path=SCREENSHOTS / "12-conversation.png", full_page=True)
        await page.get_by_label("Message", exact=True).fill(answer)
        await page.get_by_role("button", name="Send", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Text to borrower sent")
        await expect(conversation).to_contain_text(answer)

        async def delivered() -> list[dict[str, object]]:
            return [m for m in providers.state.messages if m["body"] == answer]

        assert len(await eventually(delivered, timeout=30)) == 1
        await page.reload()
        await expect(conversation).to_contain_text(answer)
        await page.screenshot(path=SCREENSHOTS / "13-answered.png", full_page=True)


async def test_a_manager_opens_the_leads_of_an_invalid_combination_from_the_dashboard(
    browser: object,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    """Two leads reach Lead / Nurture; the playbook's next version no longer links Nurture
    to Lead. The manager's dashboard shows that combination in red with its count, and the
    count opens exactly those two leads."""
    from playwright.async_api import Browser, expect

    assert isinstance(browser, Browser)
    place = Place.where_it_is(12)
    account = f"ws-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        dev_address,
        database_url,
        providers,
        account,
        place.playbook_folder(tmp_path / "playbooks", "leads-queue"),
    )
    book = _workspace_playbook(place)
    await ensure_account(db, account, "Workspace", "leads-queue")
    await save_version(db, account, book)
    await save_user(db, account, "mo", "Mo Manager", None, None, ["isa"], role="manager")
    await set_password(db, account, "mo", await hash_password(ANA_PASSWORD))
    key = await new_api_key(db, account)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with api_and_worker(env) as url:
        async with httpx.AsyncClient(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}
        ) as api:
            for lead in ("R-1", "R-2", "R-3"):
                fields = place.lead_fields(name=f"{lead} Lee")
                created = await api.put(f"/v1/leads/{lead}", json={"first_name": lead, **fields})
                assert created.status_code == 201, created.text
            for lead in ("R-2", "R-3"):
                change = {"status": "Nurture", "actor": "mo", "request_id": f"nurture-{lead}"}
                moved = await api.post(f"/v1/leads/{lead}/milestone", json=change)
                assert moved.status_code == 200, moved.text
        links = {**book.links, "Lead": [s for s in book.links["Lead"] if s != "Nurture"]}
        await save_version(
            db, account, book.model_copy(update={"version": book.version + 1, "links": links})
        )
        context = await browser.new_context(
            timezone_id=AGENT_ZONE, viewport={"width": 1200, "height": 900}
        )
        page = await context.new_page()
        await page.goto(f"{url}/app/reports")
        await page.get_by_label("Account", exact=True).fill(account)
        await page.get_by_label("Your user id").fill("mo")
        await page.get_by_label("Password").fill(ANA_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        dashboard = page.get_by_role("region", name="Dispositions")
        invalid = dashboard.get_by_role(
            "link", name="2 leads Lead / Nurture, an invalid combination"
        )
        await expect(invalid).to_be_visible()
        row = dashboard.locator("tr.invalid")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("Nurture")
        color = await row.locator("td").first.evaluate("cell => getComputedStyle(cell).color")
        assert color == "rgb(163, 0, 0)"  # red
        await page.screenshot(path=SCREENSHOTS / "14-dashboard.png", full_page=True)
        await invalid.click()
        listed = page.get_by_role("region", name="Leads")
        await expect(listed.get_by_role("link", name="R-2")).to_be_visible()
        await expect(listed.get_by_role("link", name="R-3")).to_be_visible()
        await expect(listed.get_by_role("link", name="R-1")).to_have_count(0)
        await expect(listed).to_contain_text("Milestone Lead, status Nurture")
        await page.screenshot(path=SCREENSHOTS / "15-invalid-combination-leads.png", full_page=True)

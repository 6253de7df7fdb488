"""A marketer's day in Chromium: sign in, create a campaign, generate 1,000 codes watching the
progress bar, export them, find a customer, and see a till's redemption on the campaign's chart;
every campaign page photographed at phone and desktop sizes under var/screenshots/."""

import asyncio
import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from api.settings import Settings
from tests.browser.conftest import SCREENSHOTS, SIZES, Size
from tests.console import make_console_user
from tests.factories import Tenant, create_customer_over_graphql, make_pos_key

PUBLISH = """
mutation ($campaignId: ID!, $customerId: ID!) {
  publishCode(campaignId: $campaignId, customerId: $customerId) {
    code { code display } errors { code }
  }
}"""
REDEEM = """
mutation ($code: String!, $customerId: ID!) {
  redeemCode(code: $code, customerId: $customerId,
             order: {id: "till-1", amount: {amount: 4800, currency: "EUR"}}) {
    redemption { id } errors { code }
  }
}"""
DESKTOP, PHONE = (next(s for s in SIZES if s.phone is phone) for phone in (False, True))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The served app's own background runner makes the codes, as `engage serve` does.
    return settings.model_copy(update={"run_jobs": True})


async def photograph(page: Page, size: Size, name: str, whole: bool = False) -> Path:
    """The screen as the user sees it first; `whole` adds the full length as <name>-full."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"console-{name}-{size.name}.png"
    await page.screenshot(path=path)
    if whole:
        await page.screenshot(
            path=SCREENSHOTS / f"console-{name}-full-{size.name}.png", full_page=True
        )
    return path


async def page_width(page: Page) -> int:
    """How wide the page is drawn: a phone zooms out of a page wider than its screen."""
    return int(await page.evaluate("document.documentElement.scrollWidth"))


async def photograph_pages(
    page: Page, size: Size, shots: dict[str, str], whole: Callable[[str], bool] = lambda _: False
) -> None:
    """Each page of `shots` (name: address) photographed; on a phone, none wider than the
    screen (a phone zooms out of a wider page)."""
    for name, address in shots.items():
        await page.goto(address)
        if size.phone:
            assert await page_width(page) <= size.width, name
        await photograph(page, size, name, whole=whole(name))


async def phone_context(browser: Browser, site: str, desktop: BrowserContext) -> BrowserContext:
    """A phone signed in with the desktop's session."""
    return await browser.new_context(
        viewport={"width": PHONE.width, "height": PHONE.height},
        is_mobile=True,
        has_touch=True,
        base_url=site,
        storage_state=await desktop.storage_state(),
    )


async def open_context(browser: Browser, site: str, size: Size) -> BrowserContext:
    return await browser.new_context(
        viewport={"width": size.width, "height": size.height},
        is_mobile=size.phone,
        has_touch=size.phone,
        base_url=site,
        accept_downloads=True,
    )


async def test_a_marketer_runs_a_campaign_from_sign_in_to_a_redemption_on_its_chart(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    ada = await create_customer_over_graphql(
        tenant=tenant, email="ada@example.com", name="Ada Lovelace", sourceId="crm-42"
    )
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()
    shots: dict[str, str] = {}

    await page.goto("/console/campaigns")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Campaigns")
    shots["campaigns-empty"] = page.url

    # A new campaign: a first try with an end before the start shows the API's error by it.
    await page.click("text=Create your first campaign")
    await page.fill("#name", "Winter 20")
    await page.fill("[id='discount.percentOff']", "20")
    await page.fill("[id='codes.pattern']", "WIN-###")
    await page.fill("#plannedCodes", "1000")
    advice = page.locator("#code-preview .preview-advice")
    await expect(advice).to_contain_text("use a pattern with at least 4 '#' characters")
    await page.fill("[id='codes.pattern']", "WIN-####-####")
    await expect(advice).to_have_count(0)
    await expect(page.locator("#code-preview .examples code").first).to_have_text(
        re.compile(r"^WIN-[A-Z2-9]{4}-[A-Z2-9]{4}$")
    )
    # Only the chosen discount type's amounts can be typed.
    await expect(page.locator("[id='discount.amountOff']")).to_be_hidden()
    await page.fill("#startsAt", "2026-12-24T10:00")
    await page.fill("#endsAt", "2026-12-24T09:00")
    await photograph(page, DESKTOP, "campaign-form")
    shots["campaign-new"] = page.url
    await page.click("button:has-text('Create campaign')")
    await expect(page.locator(".error-summary")).to_contain_text("endsAt must be after startsAt")
    await expect(page.locator("[id='endsAt-error']")).to_contain_text("after startsAt")
    await photograph(page, DESKTOP, "campaign-form-errors")
    await page.fill("#startsAt", "")
    await page.fill("#endsAt", "")
    await page.click("button:has-text('Create campaign')")
    await expect(page.locator(".notice")).to_have_text("Campaign created.")
    campaign_url = page.url.split("?")[0]
    campaign_id = campaign_url.rsplit("/", 1)[1]

    # 1,000 codes, made by the served app's job runner while the page follows the job.
    await page.click("a:has-text('Generate codes')")
    await expect(page.locator("#count")).to_have_value("1000")
    shots["campaign-generate"] = page.url
    # Every value the job page's bar shows, kept across the reload the page makes when done.
    await page.add_init_script(
        """document.addEventListener('DOMContentLoaded', () => {
          const bar = document.getElementById('job-progress');
          if (!bar) return;
          const keep = () => sessionStorage.setItem('seen',
            JSON.stringify([...JSON.parse(sessionStorage.getItem('seen') || '[]'), bar.value]));
          keep();
          new MutationObserver(keep).observe(bar, { attributes: true, attributeFilter: ['value'] });
        })"""
    )
    await page.click("button:has-text('Generate codes')")
    await expect(page.locator("#job-progress")).to_have_attribute("max", "1000")
    await expect(page.locator("#job-text")).to_contain_text("1,000 of 1,000 codes", timeout=60_000)
    seen = await page.evaluate("JSON.parse(sessionStorage.getItem('seen'))")
    # The page followed the job (two batches of 500) by itself, never going backwards, to 1,000.
    assert seen == sorted(seen) and seen[-1] == 1000, seen
    await expect(page.locator(".job-done a:has-text('See the codes')")).to_be_visible()
    await photograph(page, DESKTOP, "campaign-job")
    shots["campaign-job"] = page.url

    async with page.expect_download() as download_info:
        await page.click(".job-done a:has-text('Export CSV')")
    download = await download_info.value
    assert re.fullmatch(r"codes-winter-20-\d{8}T\d{4}Z\.csv", download.suggested_filename)
    text = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1000 and len({r["code"] for r in rows}) == 1000
    assert all(re.fullmatch(r"WIN-[A-Z2-9]{4}-[A-Z2-9]{4}", r["code"]) for r in rows)

    await page.click("a:has-text('See the codes')")
    await expect(page.locator(".count-line")).to_contain_text("of 1,000")
    shots["campaign-codes"] = page.url

    # Ada is given a code; the marketer finds her from the header search.
    published = await tenant.gql(PUBLISH, {"campaignId": campaign_id, "customerId": ada})
    code, printed = (published["publishCode"]["code"][key] for key in ("code", "display"))
    await page.fill("#header-q", "ada@example.com")
    await page.press("#header-q", "Enter")
    # An exact email opens the customer; her coupons list the code she was given.
    await expect(page.locator("h1")).to_contain_text("Ada Lovelace")
    await expect(page.locator("#coupons + div table")).to_contain_text(printed)

    await page.goto(campaign_url)
    chart = page.locator("#performance svg.chart").first
    await expect(chart.locator("desc")).to_contain_text("0 redemptions")
    till = tenant.gql.as_token(await make_pos_key(tenant=tenant))
    redeemed = await till(REDEEM, {"code": code, "customerId": ada})
    assert redeemed["redeemCode"]["errors"] == []
    await page.reload()
    await expect(chart.locator("desc")).to_contain_text("1 redemption in all")
    await expect(page.locator("#window-redemptions")).to_have_text("1")
    await expect(page.locator("#redemptions tbody tr")).to_have_count(1)
    await expect(page.locator("#redemptions")).to_contain_text("Ada Lovelace")
    await photograph(page, DESKTOP, "campaign")
    shots["campaign"] = campaign_url
    shots["campaigns"] = campaign_url.rsplit("/", 1)[0]
    shots["campaign-edit"] = f"{campaign_url}/edit"
    # The code settings with their live example and the room the shape leaves.
    shots["campaign-edit-codes"] = f"{campaign_url}/edit#codes"
    shots["campaign-pause"] = f"{campaign_url}/status/pause"
    rollback = page.locator("#redemptions a:has-text('Roll back')")
    shots["redemption-rollback"] = str(await rollback.get_attribute("href"))
    del shots["campaigns-empty"], shots["campaign-new"]

    await photograph_pages(
        page, DESKTOP, shots, whole=lambda name: name in ("campaign", "campaign-edit")
    )

    # The same pages on a phone, signed in with the same session.
    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(
        small,
        PHONE,
        {**shots, "campaign-form": f"{campaign_url}/edit"},
        whole=lambda name: name in ("campaign", "campaign-edit"),
    )
    await phone.close()
    await desktop.close()

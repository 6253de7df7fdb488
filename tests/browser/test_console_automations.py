"""A marketer's automation in Chromium: create one (a refused try first), see a customer's pending
action, pause it after the confirmation; each page photographed at phone and desktop sizes
under var/screenshots/."""

from playwright.async_api import Browser, expect

from domain.common import utc_now
from tests.browser.test_console_campaigns import (
    DESKTOP,
    PHONE,
    open_context,
    phone_context,
    photograph,
    photograph_pages,
)
from tests.console import make_console_user
from tests.domain.test_automation import abandon
from tests.factories import Tenant, make_campaign, make_shopper


async def test_a_marketer_creates_an_automation_and_pauses_it(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    project_id = tenant.project_id
    owner = await make_console_user(project_id=project_id)
    campaign = await make_campaign(project_id=project_id, name="Come back")
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()

    await page.goto("/console/automations")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Automations")
    await page.click("text=Create your first automation")
    await page.fill("#name", "Abandoned cart")
    await page.fill("#conditions", '{"total": {"gte": 1000}')
    await page.select_option("[id='action.campaignId']", campaign.key)
    await page.click("button:has-text('Create automation')")
    await expect(page.locator("[id='conditions-error']")).to_contain_text("JSON object")
    await photograph(page, DESKTOP, "automation-form-errors")
    await page.fill("#conditions", '{"total": {"gte": 1000}}')
    await page.click("button:has-text('Create automation')")
    await expect(page.locator("[role=status]")).to_contain_text("Automation created")
    automation_url = page.url.split("?")[0]

    ada = await make_shopper(project_id=project_id, name="Ada")
    await abandon(project_id, ada, utc_now(), key="cart-ada")
    await page.reload()
    await expect(page.locator("#pending-title + .table-scroll tbody tr")).to_have_count(1)
    shots = {
        "automation": automation_url,
        "automation-edit": f"{automation_url}/edit",
        "automation-pause": f"{automation_url}/status/pause",
        "automations": "/console/automations",
    }
    await photograph_pages(page, DESKTOP, shots, whole=lambda name: name == "automation-edit")

    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(small, PHONE, shots, whole=lambda name: name == "automation-edit")
    await phone.close()

    await page.goto(automation_url)
    await page.click("a:has-text('Pause')")
    await page.click("button:has-text('Pause automation')")
    await expect(page.locator("[role=status]")).to_contain_text("Automation paused")
    await page.goto("/console/automations")
    await expect(page.locator("table")).to_contain_text("Paused")
    await desktop.close()

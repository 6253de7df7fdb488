"""A marketer runs a loyalty program in Chromium: sets up tiers and expiry (an error first),
adds a reward, opens a member's card from the customer page and adjusts the points, refused
below zero; every loyalty page photographed at phone and desktop sizes under var/screenshots/."""

from playwright.async_api import Browser, expect

from tests.browser.test_console_campaigns import (
    DESKTOP,
    PHONE,
    open_context,
    phone_context,
    photograph,
    photograph_pages,
)
from tests.console import make_console_user
from tests.factories import Tenant, create_customer_over_graphql

ADJUST = """
mutation ($customerId: ID!, $campaignId: ID!) {
  adjustPoints(customerId: $customerId, campaignId: $campaignId, points: 240,
               reason: "welcome gift") { errors { code } }
}"""


async def test_a_marketer_sets_up_a_program_and_adjusts_a_members_points(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    ada = await create_customer_over_graphql(
        tenant=tenant, email="ada@example.com", name="Ada Lovelace"
    )
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()
    shots: dict[str, str] = {}

    await page.goto("/console/loyalty")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Loyalty programs")
    await expect(page.locator(".rail a[aria-current='page']")).to_have_text("Loyalty")

    # Tiers and expiry; a first try with two tiers at one threshold shows the API's error.
    await page.click("text=Create your first program")
    await page.fill("#name", "Club points")
    await page.fill("[id='loyalty.pointsPerOrder']", "10")
    await page.fill("[id='events.0.name']", "review")
    await page.fill("[id='events.0.points']", "25")
    await page.fill("[id='tiers.0.name']", "Silver")
    await page.fill("[id='tiers.0.threshold']", "500")
    await page.fill("[id='tiers.1.name']", "Gold")
    await page.fill("[id='tiers.1.threshold']", "500")
    await page.fill("[id='tiers.1.multiplier']", "1.5")
    await page.fill("[id='loyalty.expiryDays']", "365")
    await page.click("button:has-text('Create program')")
    await expect(page.locator(".error-summary")).to_contain_text("Two tiers have threshold 500")
    await expect(page.locator("[id='loyalty.tiers-error']")).to_contain_text("threshold 500")
    await photograph(page, DESKTOP, "loyalty-form-errors")
    await page.fill("[id='tiers.1.threshold']", "2000")
    await page.click("button:has-text('Create program')")
    await expect(page.locator(".notice")).to_have_text("Program created.")
    await expect(page.locator("#tiers-caption + thead + tbody")).to_contain_text("Gold")
    program_url = page.url.split("?")[0]
    program_id = program_url.rsplit("/", 1)[1]

    # A reward in the catalogue, then its cost changed.
    await page.click("a:has-text('Add a reward')")
    await page.fill("#name", "Free coffee")
    await page.fill("#cost", "150")
    await page.click("button:has-text('Add reward')")
    await expect(page.locator(".notice")).to_have_text("Reward added.")
    await page.click("a:has-text('Edit Free coffee')")
    shots["loyalty-reward"] = page.url
    await page.fill("#cost", "120")
    await page.click("button:has-text('Save reward')")
    await expect(page.locator("#rewards-caption + thead + tbody")).to_contain_text("120 points")

    # Ada's card, from her customer page; too many points taken are refused by the field.
    given = await tenant.gql(ADJUST, {"customerId": ada, "campaignId": program_id})
    assert given["adjustPoints"]["errors"] == []
    await page.goto(f"/console/customers/{ada}")
    await page.click("a:has-text('Card, full ledger and points adjustment')")
    await expect(page.locator("h1")).to_have_text("Ada Lovelace")
    member_url = page.url
    await page.fill("#points", "-500")
    await page.fill("#reason", "returned order")
    await page.click("button:has-text('Adjust points')")
    await expect(page.locator("#points-error")).to_contain_text("does not have enough points")
    await expect(page.locator(".error-summary")).to_contain_text("INSUFFICIENT_POINTS")
    await expect(page.locator("#reason")).to_have_value("returned order")
    await photograph(page, DESKTOP, "loyalty-adjust-error")
    await page.fill("#points", "-40")
    await page.click("button:has-text('Adjust points')")
    await expect(page.locator(".notice")).to_have_text("Points adjusted.")
    balance = page.locator(".figures li").first.locator(".value")
    await expect(balance).to_have_text("200")
    await expect(page.locator("#ledger-caption + thead + tbody tr")).to_have_count(2)
    await expect(page.locator("#ledger-caption + thead + tbody")).to_contain_text("returned order")

    shots.update(
        {
            "loyalty": "/console/loyalty",
            "loyalty-program": program_url,
            "loyalty-edit": f"{program_url}/edit",
            "loyalty-member": member_url,
        }
    )
    await photograph_pages(page, DESKTOP, shots, whole=lambda name: name == "loyalty-edit")

    # The same pages on a phone, signed in with the same session: nothing wider than the screen.
    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(small, PHONE, shots, whole=lambda name: name == "loyalty-edit")
    await phone.close()
    await desktop.close()

"""A marketer sets up a referral program in Chromium (an error first), then reads its top
referrers and its referrals once customers have shared and applied codes; every referral page
photographed at phone and desktop sizes under var/screenshots/."""

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
from tests.factories import Tenant, create_campaign_over_graphql, create_customer_over_graphql

LINK = """
mutation ($customerId: ID!, $campaignId: ID!) {
  referralLink(customerId: $customerId, campaignId: $campaignId) { code errors { code } }
}"""
APPLY = """
mutation ($code: String!, $customerId: ID!) {
  applyReferralCode(code: $code, customerId: $customerId) { errors { code } }
}"""


async def test_a_marketer_sets_up_a_referral_program_and_follows_its_referrals(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    await create_campaign_over_graphql(
        tenant=tenant, name="Welcome 10", discount={"type": "PERCENT", "percentOff": 10}
    )
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()

    await page.goto("/console/referrals")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Referral programs")
    await page.click("text=Create your first program")
    await page.fill("#name", "Bring a friend")
    await page.fill("[id='referral.landingUrl']", "shop.example/join")
    await page.select_option("[id='referral.welcomeCampaignId']", label="Welcome 10")
    await page.select_option(
        "[id='referral.referrerReward.discountCampaignId']", label="Welcome 10"
    )
    await page.fill("[id='referral.holdDays']", "14")
    await page.click("button:has-text('Create program')")
    await expect(page.locator("[id='referral.landingUrl-error']")).to_contain_text("http(s)")
    await photograph(page, DESKTOP, "referral-form-errors")
    await page.fill("[id='referral.landingUrl']", "https://shop.example/join")
    await page.click("button:has-text('Create program')")
    await expect(page.locator(".notice")).to_have_text("Program created.")
    program_url = page.url.split("?")[0]
    program_id = program_url.rsplit("/", 1)[1]

    # Ada brings two friends, Bob one.
    people = {}
    for name in ("Ada Lovelace", "Bob Marley", "Chloe", "Dan", "Eve"):
        people[name] = await create_customer_over_graphql(tenant=tenant, name=name)
    for referrer, friends in (("Ada Lovelace", ("Chloe", "Dan")), ("Bob Marley", ("Eve",))):
        link = await tenant.gql(LINK, {"customerId": people[referrer], "campaignId": program_id})
        for friend in friends:
            applied = await tenant.gql(
                APPLY, {"code": link["referralLink"]["code"], "customerId": people[friend]}
            )
            assert applied["applyReferralCode"]["errors"] == []
    await page.reload()
    await expect(page.locator("#top-caption + thead + tbody tr").first).to_contain_text(
        "Ada Lovelace"
    )
    await expect(page.locator("#referrals-caption + thead + tbody tr")).to_have_count(3)
    await expect(page.locator("#referrals-caption + thead + tbody")).to_contain_text("Pending")
    await page.click("#top-caption + thead + tbody a:has-text('Ada Lovelace')")
    await expect(page.locator("h1")).to_contain_text("Ada Lovelace")

    shots = {
        "referrals": "/console/referrals",
        "referral-program": program_url,
        "referral-edit": f"{program_url}/edit",
    }
    await photograph_pages(page, DESKTOP, shots, whole=lambda name: name == "referral-program")
    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(small, PHONE, shots, whole=lambda name: name == "referral-program")
    await phone.close()
    await desktop.close()

"""A marketer writes an SMS and an email template watching the live preview, sends a campaign's
codes by email and follows the job to its delivery figures, then reads the message log; every
page photographed at phone and desktop sizes under var/screenshots/."""

import pytest
from playwright.async_api import Browser, expect

from api.settings import Settings
from tests.browser.test_console_campaigns import (
    DESKTOP,
    PHONE,
    open_context,
    phone_context,
    photograph,
    photograph_pages,
)
from tests.console import make_console_user, seed_shop
from tests.factories import Tenant

EMAIL_HTML = (
    '<div style="font-family:sans-serif;border-top:6px solid {{ brand.primary_color }};'
    'padding:16px"><h1>Hi {{ customer.first_name }}</h1><p>{{ offer.text }} with '
    "<strong>{{ code.display }}</strong>.</p>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></div>'
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The served app's own background runner sends the campaign, as `engage serve` does.
    return settings.model_copy(update={"run_jobs": True})


async def test_a_marketer_writes_templates_and_sends_a_campaign(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    shop = await seed_shop(tenant.gql)
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()
    shots: dict[str, str] = {}

    await page.goto("/console/templates")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Templates")
    shots["templates-empty"] = page.url

    # An SMS: the counts follow the typing, and the missing opt-out shows by the text field.
    await page.click("text=New SMS template")
    await page.fill("#name", "Flash sale")
    await page.fill("#text", "{{ customer.first_name }}, {{ offer.text }}: {{ code.display }} 🎉")
    await expect(page.locator("#sms-encoding")).to_have_text("UCS-2")
    await expect(page.locator("#text-live")).to_contain_text("MISSING_OPT_OUT")
    await expect(page.locator("#preview-sms")).to_contain_text("Alexandra, 15% off")
    await photograph(page, DESKTOP, "template-sms-errors")
    await page.fill(
        "#text",
        "{{ customer.first_name }}, {{ offer.text }}: {{ code.display }}. Reply STOP to opt out",
    )
    await expect(page.locator("#sms-encoding")).to_have_text("GSM-7")
    await expect(page.locator("#sms-segments")).to_have_text("1")
    await expect(page.locator("#text-live")).to_be_hidden()
    await expect(page.locator("#preview-state")).to_have_text("Ready to save.")
    await page.click("button:has-text('Create template')")
    await expect(page.locator(".notice")).to_have_text("Template created.")
    shots["template-sms"] = page.url

    # An email: a misspelt variable is named by the subject, the HTML renders in the frame.
    await page.goto("/console/templates/new?channel=EMAIL")
    await page.fill("#name", "Spring email")
    await page.fill("#subject", "{{ customer.frist_name }}, your code")
    await expect(page.locator("#subject-live")).to_contain_text("UNKNOWN_VARIABLE")
    await page.fill("#subject", "{{ customer.first_name }}, your code")
    await page.fill("#html", EMAIL_HTML)
    await expect(page.locator("#preview-subject")).to_have_text("Alexandra, your code")
    frame = page.frame_locator("#preview-html")
    await expect(frame.locator("h1")).to_have_text("Hi Alexandra")
    await expect(page.locator("#preview-text")).to_contain_text("SUMMER-7KQ2-9XZP")
    await expect(page.locator("#preview-state")).to_have_text("Ready to save.")
    await photograph(page, DESKTOP, "template-email")
    await page.click("button:has-text('Create template')")
    await expect(page.locator(".notice")).to_have_text("Template created.")
    shots["template-email"] = page.url
    shots["templates"] = f"{site}/console/templates"

    # From the campaign page to sending its codes by email with the new template.
    await page.goto(f"/console/campaigns/{shop.campaign_id}")
    await page.click("a:has-text('Send to customers')")
    shots["distribute"] = page.url
    await page.check("input[name=channels][value=EMAIL]")
    await page.select_option("#template_id", label="Spring email (email)")
    await page.click("button:has-text('Start sending')")
    await expect(page.locator("#job-text")).to_contain_text("Succeeded", timeout=30_000)
    await expect(page.locator("#count-published")).to_have_text("1")
    await expect(page.locator("#count-queued")).to_have_text("1")
    shots["distribution"] = page.url

    await page.click("a:has-text('Messages of Spring sale')")
    await expect(page.locator("caption")).to_contain_text("matching the filters")
    await expect(page.locator("tbody")).to_contain_text("ada@example.com")
    shots["messages"] = f"{site}/console/messages"
    del shots["templates-empty"]

    await photograph_pages(page, DESKTOP, shots)

    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(small, PHONE, shots, whole=lambda name: name.startswith("template-"))
    # On a phone the preview follows the form: the email as it renders there.
    await small.goto(shots["template-email"])
    await small.locator(".preview").scroll_into_view_if_needed()
    await expect(small.frame_locator("#preview-html").locator("h1")).to_have_text("Hi Alexandra")
    await photograph(small, PHONE, "template-email-preview")
    await phone.close()
    await desktop.close()

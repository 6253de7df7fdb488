"""A marketer builds segments in Chromium: a dynamic one whose count and first members follow
the filter as it is typed, a static one filled by pasting emails and uploading a file, and the
RFM grid down to one cell's customers; every segment page photographed at phone and desktop
sizes under var/screenshots/."""

from playwright.async_api import Browser, expect

from domain.customers import Consents, Rfm
from tests.browser.test_console_campaigns import (
    DESKTOP,
    PHONE,
    open_context,
    phone_context,
    photograph,
    photograph_pages,
)
from tests.console import make_console_user
from tests.factories import Tenant, make_customer


async def test_a_marketer_builds_segments_with_a_live_count_and_reads_the_rfm_grid(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id, role="MARKETER")
    ada = await make_customer(
        project_id=tenant.project_id,
        name="Ada Lovelace",
        email="ada@example.com",
        consents=Consents(email=True),
        metrics={"orders_count": 3, "total_spent": 9000},
        rfm=Rfm(recency=5, frequency=4, monetary=5, group="champions"),
    )
    await make_customer(
        project_id=tenant.project_id,
        name="Bea Brown",
        email="bea@example.com",
        metrics={"orders_count": 1, "total_spent": 1000},
        rfm=Rfm(recency=2, frequency=1, monetary=1, group="hibernating"),
    )
    await make_customer(project_id=tenant.project_id, name="Cy Young", email="cy@example.com")
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()
    shots: dict[str, str] = {}

    await page.goto("/console/segments")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Segments")

    # A dynamic segment: the count and the first members follow each change.
    await page.click("text=Create your first segment")
    await page.fill("#name", "Email buyers")
    preview = page.locator("#segment-preview")
    await expect(preview).to_contain_text("Choose conditions")
    await expect(page.locator("button:has-text('Update count')")).to_be_hidden()
    await page.select_option("[id='row0.field']", "metrics.orders_count")
    # Only the operators numbers allow are offered.
    await expect(page.locator("[id='row0.op'] option[value='within_days']")).to_be_hidden()
    await page.select_option("[id='row0.op']", "gte")
    await page.fill("[id='row0.value']", "many")
    await expect(preview).to_contain_text("metrics.orders_count takes a number")
    await page.fill("[id='row0.value']", "1")
    await expect(preview.locator(".preview-size")).to_have_text("2 customers")
    await expect(preview.locator("li")).to_have_text(["Ada Lovelace", "Bea Brown"])
    await expect(page.locator("[id='row1.field']")).to_be_hidden()
    await page.click("button:has-text('Add a condition')")
    await page.select_option("[id='row1.field']", "consents.email")
    await page.fill("[id='row1.value']", "true")
    await expect(preview.locator(".preview-size")).to_have_text("1 customer")
    await expect(page.locator("[id='row1.key']")).to_be_hidden()
    await photograph(page, DESKTOP, "segment-form")
    await page.click("button:has-text('Create segment')")
    await expect(page.locator(".notice")).to_have_text("The segment was created.")
    await expect(page.locator(".figures .value").first).to_have_text("1 customer")
    shots["segment"] = page.url.split("?")[0]
    shots["segment-edit"] = shots["segment"] + "/edit"

    # A static segment filled by pasting, then by a file of the same list.
    await page.goto("/console/segments/new")
    await page.fill("#name", "VIP list")
    await page.check("input[name=kind][value=STATIC]")
    await expect(page.locator("#builder")).to_be_hidden()
    await page.click("button:has-text('Create segment')")
    await page.fill("#lines", "ada@example.com\nnobody@example.com")
    await page.click("button:has-text('Add to segment')")
    await expect(page.locator("#unmatched")).to_contain_text("nobody@example.com")
    await page.fill("#lines", "ada@example.com")
    await page.click("button:has-text('Add to segment')")
    await expect(page.locator(".notice")).to_contain_text("1 customer added")
    await page.set_input_files(
        "#file", files=[{"name": "vip.csv", "mimeType": "text/csv", "buffer": b"bea@example.com\n"}]
    )
    await page.click("button:has-text('Add to segment')")
    await expect(page.locator(".figures .value").first).to_have_text("2 customers")
    shots["segment-static"] = page.url.split("?")[0]
    shots["segments"] = "/console/segments"

    # The RFM grid: a cell leads to its customers, and each to the customer's page.
    await page.goto("/console/segments/rfm")
    await page.click("a[aria-label^='Recency 5, frequency 4']")
    await expect(page.locator("h1")).to_have_text("Recency 5, frequency 4")
    shots["segments-rfm"] = "/console/segments/rfm"
    shots["segments-rfm-cell"] = page.url
    await page.click("a:has-text('Ada Lovelace')")
    await expect(page.locator("h1")).to_contain_text("Ada Lovelace")
    assert page.url.endswith(f"/console/customers/{ada.key}")

    await photograph_pages(page, DESKTOP, shots, whole=lambda name: name == "segment-edit")
    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(small, PHONE, shots, whole=lambda name: name == "segment-edit")
    await phone.close()
    await desktop.close()

"""An owner sets the brand and messaging in Chromium: the coupon page preview follows the typing
and saves nothing until "Save brand", the SMTP password is never shown back, and a test email
comes back accepted; the pages photographed at phone and desktop sizes under var/screenshots/."""

from playwright.async_api import Browser, BrowserContext, Page, expect

from domain.projects import get_project
from tests.browser.conftest import SCREENSHOTS, SIZES, Size
from tests.console import ConsoleUser, make_console_user
from tests.delivery.fakes import FakeSmtpServer
from tests.factories import Tenant

SMTP_PASSWORD = "smtp-secret-Password-4242"
# The desktop sets the server up; the phone then finds it set.
DESKTOP_FIRST = sorted(SIZES, key=lambda size: size.phone)


async def open_signed_in(browser: Browser, site: str, size: Size, owner: ConsoleUser) -> Page:
    context: BrowserContext = await browser.new_context(
        viewport={"width": size.width, "height": size.height},
        is_mobile=size.phone,
        has_touch=size.phone,
        base_url=site,
    )
    page = await context.new_page()
    await page.goto("/console/settings")
    await page.get_by_label("Email address").fill(owner.email)
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    return page


async def photograph(page: Page, size: Size, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"console-{name}-{size.name}.png", full_page=True)


async def overflows(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))


async def test_an_owner_previews_and_saves_the_brand_and_tests_their_smtp_server(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    with FakeSmtpServer(credentials=("shop", SMTP_PASSWORD)) as smtp:
        for size in DESKTOP_FIRST:
            page = await open_signed_in(browser, site, size, owner)
            await brand_flow(page, size, tenant)
            await messaging_flow(page, size, smtp)
            await page.context.close()
        assert sorted(m.rcpt_tos[0] for m in smtp.wait_for(2)) == [
            "desktop@shop.example",
            "phone@shop.example",
        ]


async def brand_flow(page: Page, size: Size, tenant: Tenant) -> None:
    """The preview follows the typing and saves nothing; a bad colour is refused, then saved."""
    await page.get_by_role("link", name="Brand").click()
    await expect(page.get_by_role("heading", name="Brand", level=1)).to_be_visible()
    before = (await get_project(tenant.project_id)).settings_version
    preview = page.frame_locator("#brand-preview")
    # The script replaces the no-script button with a preview that follows the typing.
    await expect(page.get_by_role("button", name="Preview")).to_be_hidden()
    await page.get_by_label("Display name").fill(f"Maison Lune {size.name}")
    await page.get_by_label("Main colour").fill("#1d4ed8")
    await page.get_by_label("Shop link").fill("https://shop.example.com/cart")
    await expect(preview.locator("header.brand span")).to_have_text(f"Maison Lune {size.name}")
    header = preview.locator("header.brand")
    await expect(header).to_have_css("background-color", "rgb(29, 78, 216)")
    await expect(preview.locator("#code")).to_contain_text("SPRING")
    shop_link = preview.get_by_role("link", name="Use it in the shop")
    await expect(shop_link).to_have_attribute(
        "href", "https://shop.example.com/cart?code=SPRING15SAMPLE"
    )
    assert (await get_project(tenant.project_id)).settings_version == before
    assert not await overflows(page)
    await photograph(page, size, "brand")
    # A full-page picture leaves the framed page blank on a phone: the preview on its own too.
    await page.locator("#brand-preview").scroll_into_view_if_needed()
    await expect(preview.locator("#code")).to_be_in_viewport()
    await page.screenshot(path=SCREENSHOTS / f"console-brand-preview-{size.name}.png")

    await page.get_by_label("Accent colour").fill("orange")
    await page.get_by_role("button", name="Save brand").click()
    await expect(page.get_by_role("alert")).to_contain_text("A color is written #RGB")
    await expect(page.locator("#accent_color-error")).to_be_visible()
    await photograph(page, size, "brand-error")
    await page.get_by_label("Accent colour").fill("#f97316")
    await page.get_by_role("button", name="Save brand").click()
    await expect(page.get_by_role("status").first).to_contain_text("The brand was saved")
    saved = (await get_project(tenant.project_id)).brand
    assert (saved.name, saved.accent_color) == (f"Maison Lune {size.name}", "#f97316")


async def messaging_flow(page: Page, size: Size, smtp: FakeSmtpServer) -> None:
    """The desktop sets the SMTP server up; both send a test email through it."""
    await page.locator("main").get_by_role("link", name="Settings", exact=True).click()
    await page.get_by_role("link", name="Messaging").click()
    await expect(page.get_by_role("heading", name="Messaging", level=1)).to_be_visible()
    if not size.phone:
        await page.get_by_label("Email from").fill("Maison Lune <hello@shop.example>")
        await page.get_by_label("Host").fill(smtp.host)
        await page.get_by_label("Port").fill(str(smtp.port))
        await page.get_by_label("Security").select_option("none")
        await page.get_by_label("Username").fill("shop")
        await page.locator("#smtp_password").fill(SMTP_PASSWORD)
        await page.get_by_label("Envelope sender").fill("bounces@shop.example")
        await page.get_by_role("button", name="Save messaging").click()
        await expect(page.get_by_role("status").first).to_contain_text("were saved")
    await expect(page.locator("#smtp_password-state")).to_contain_text("Stored: set")
    assert await page.locator("#smtp_password").input_value() == ""
    assert SMTP_PASSWORD not in await page.content()
    await page.get_by_label("Send to").fill(f"{size.name}@shop.example")
    await page.get_by_role("button", name="Send test").click()
    await expect(page.locator("#test-result")).to_contain_text("Accepted")
    assert not await overflows(page)
    await photograph(page, size, "messaging")

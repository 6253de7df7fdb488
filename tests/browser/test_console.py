"""The console in Chromium on a phone and a desktop: sign-in, dashboard, customer search and a
customer's page, with screenshots under var/screenshots/console-*.png."""

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, Size, screenshot
from tests.console import make_console_user, seed_shop
from tests.factories import Tenant


async def whole_page(page: Page, size: Size, name: str) -> None:
    """The long pages are looked at whole, not just their first screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}-{size.name}.png", full_page=True)


async def overflows(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))


async def test_a_marketer_signs_in_reads_the_dashboard_and_finds_a_customer(
    page: Page, size: Size, tenant: Tenant
) -> None:
    shop = await seed_shop(tenant.gql)
    owner = await make_console_user(project_id=tenant.project_id, email="owner@shop.test")

    await page.goto("/console/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email address").fill(owner.email)
    await page.get_by_label("Password").fill("wrong-password")
    await page.get_by_label("Password").press("Enter")
    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("The email or password is not right")
    assert await page.title() == "Error: Sign in · Engage console"
    await screenshot(page, size, "console-sign-in-error")
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    chart = page.get_by_role("img", name="Redemptions per day")
    await expect(chart).to_be_visible()
    await expect(page.get_by_role("row", name="Spring sale")).to_be_visible()
    assert not await overflows(page)
    await whole_page(page, size, "console-dashboard")

    if size.phone:
        nav = page.get_by_role("navigation", name="Console")
        await expect(nav).to_be_hidden()
        await page.get_by_role("button", name="Menu").click()
        await expect(nav.get_by_role("link", name="Customers")).to_be_visible()
        await screenshot(page, size, "console-menu")
    search = page.get_by_role("searchbox", name="Search customers by email, phone, sourceId")
    await search.fill("lovelace")
    await search.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("1 customer whose name matches")
    assert not await overflows(page)
    await screenshot(page, size, "console-customers")

    await page.get_by_role("link", name="Ada Lovelace").click()
    await expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    await expect(page.get_by_role("rowheader", name=shop.code)).to_be_visible()
    await expect(page.get_by_role("heading", name="Club points: 80 points")).to_be_visible()
    assert not await overflows(page)
    await whole_page(page, size, "console-customer")

    await page.goto("/console/settings/users")
    await expect(page.get_by_role("heading", name="Users")).to_be_visible()
    assert not await overflows(page)
    await screenshot(page, size, "console-users")

"""The till page in Chromium on a phone and a desktop, as a cashier uses it."""

from pathlib import Path

import segno
from playwright.async_api import BrowserContext, Page, expect

from domain.campaigns import Discount, DiscountType, Limits
from domain.projects import Role, create_api_key
from tests.browser.conftest import Size, screenshot
from tests.factories import Tenant, make_coupon, make_customer


async def prepare(tenant: Tenant) -> str:
    """A branded shop with coupons to check, a customer to find; returns a till key."""
    brand = """mutation { updateBrand(input: {name: "Corner Bakery", primaryColor: "#7c2d12",
      accentColor: "#fbbf24"}) { errors { code } } }"""
    assert (await tenant.gql(brand))["updateBrand"]["errors"] == []
    twenty = Discount(type=DiscountType.PERCENT, percent_off=20)
    await make_coupon(
        project_id=tenant.project_id,
        display="TILL-4K7M",
        discount=twenty,
        limits=Limits(per_code=1),
    )
    await make_coupon(project_id=tenant.project_id, display="SCAN-8P2Q", discount=twenty)
    await make_coupon(project_id=tenant.project_id, display="SNAP-3H9W", discount=twenty)
    ada = await make_customer(
        project_id=tenant.project_id,
        email="ada@example.com",
        phone="+33612345678",
        source_id="shop-42",
    )
    _, owned = await make_coupon(project_id=tenant.project_id, display="ADA-5R6T", discount=twenty)
    owned.customer_id = ada.key
    await owned.save()
    return (await create_api_key(tenant.project_id, Role.POS)).secret


async def sign_in(page: Page, key: str) -> None:
    await page.fill("#pos-key", key)
    await page.click("#sign-in")


async def check(
    page: Page, code: str, amount: str = "", customer: tuple[str, str] = ("", "")
) -> None:
    kind, value = customer
    await page.fill("#code", code)
    await page.fill("#amount", amount)
    if kind:
        await page.select_option("#customer-kind", kind)
    await page.fill("#customer", value)
    await page.click("#check")
    await expect(page.locator("#verdict")).not_to_have_text("")


async def test_signing_in_checking_redeeming_and_finding_the_customer(
    context: BrowserContext, page: Page, size: Size, tenant: Tenant
) -> None:
    key = await prepare(tenant)
    await page.goto("/pos")

    await sign_in(page, "ek_not-a-real-key")
    await expect(page.locator("#key-error")).to_have_text(
        "This key was not accepted: check it and sign in again."
    )
    await screenshot(page, size, "till-wrong-key")
    assert await page.locator("#key-section").is_visible()

    await sign_in(page, key)
    await expect(page.locator("#till")).to_be_visible()
    await expect(page.locator("header.brand")).to_contain_text("Corner Bakery")
    await screenshot(page, size, "till-signed-in")

    await check(page, "till 4k7m")
    await expect(page.locator("#verdict")).to_have_text("Valid")
    await expect(page.locator("#offer")).to_have_text("20% off")
    assert not await page.locator("#totals").is_visible()
    await screenshot(page, size, "till-valid-no-amount")

    await check(page, "TILL-4K7M", amount="25,00")
    await expect(page.locator("#to-pay")).to_have_text("€20.00")
    await expect(page.locator("#discount")).to_have_text("\u2212€5.00")
    await expect(page.locator("#order-amount")).to_have_text("€25.00")
    await screenshot(page, size, "till-valid-amount")

    await page.click("#redeem")
    await expect(page.locator("#redeem-result")).to_contain_text("Redeemed on")
    await expect(page.locator("#redeem-result")).to_contain_text("€5.00 off")
    await screenshot(page, size, "till-redeemed")

    await check(page, "TILL-4K7M", amount="25")
    await expect(page.locator("#verdict")).to_have_text("Not valid")
    await expect(page.locator("#reasons")).to_contain_text("This code has already been used")
    await expect(page.locator("#used-on")).to_contain_text("Already used on")
    assert not await page.locator("#redeem").is_visible()
    await screenshot(page, size, "till-already-used")

    await check(page, "ADA-5R6T", customer=("email", "someone@example.com"))
    await expect(page.locator("#reasons")).to_contain_text("No customer found with that")
    assert not await page.locator("#customer-found").is_visible()
    await screenshot(page, size, "till-customer-unknown")
    for kind, value in (
        ("email", "ADA@example.com"),
        ("phone", "+33 6 12 34 56 78"),
        ("sourceId", "shop-42"),
    ):
        await check(page, "ADA-5R6T", amount="10", customer=(kind, value))
        await expect(page.locator("#verdict")).to_have_text("Valid")
        await expect(page.locator("#customer-found")).to_have_text(
            "Customer found by " + {"email": "email", "phone": "phone", "sourceId": "shop ID"}[kind]
        )
        await screenshot(page, size, f"till-customer-{kind}")
    await page.click("#redeem")
    await expect(page.locator("#redeem-result")).to_contain_text("Redeemed on")

    # The key stays with the device: a new tab opens signed in.
    other = await context.new_page()
    await other.goto("/pos")
    await expect(other.locator("#till")).to_be_visible()
    await expect(other.locator("header.brand")).to_contain_text("Corner Bakery")
    await screenshot(other, size, "till-new-tab")
    await other.close()


async def test_a_scanner_typing_the_coupon_url_and_enter_checks_it_at_once(
    page: Page, size: Size, tenant: Tenant, tmp_path: Path
) -> None:
    key = await prepare(tenant)
    await page.goto("/pos")
    await sign_in(page, key)
    await expect(page.locator("#till")).to_be_visible()

    # Focus nowhere in particular, as after a tap on the screen; the scanner types then Enter.
    await page.evaluate("() => document.activeElement.blur()")
    await page.keyboard.type("http://testserver/c/SCAN8P2Q")
    await page.keyboard.press("Enter")
    await expect(page.locator("#verdict")).to_have_text("Valid")
    await expect(page.locator("#code")).to_have_value("SCAN8P2Q")
    await expect(page.locator("#offer")).to_have_text("20% off")
    await screenshot(page, size, "till-scanner")

    # No BarcodeDetector here (as on an iPhone): Scan takes a photo, which the server reads.
    assert await page.evaluate("() => !('BarcodeDetector' in window)")
    await expect(page.locator("#scan")).to_be_visible()
    photo = tmp_path / "qr.png"
    segno.make("http://testserver/c/SNAP3H9W", error="m").save(photo, scale=8, border=4)
    await page.set_input_files("#photo", photo)
    await expect(page.locator("#code")).to_have_value("SNAP3H9W")
    await expect(page.locator("#verdict")).to_have_text("Valid")
    await screenshot(page, size, "till-photo-scan")


async def test_a_dropped_network_is_said_and_signing_out_forgets_the_key(
    context: BrowserContext, page: Page, size: Size, tenant: Tenant
) -> None:
    key = await prepare(tenant)
    await page.goto("/pos")
    await sign_in(page, key)
    await expect(page.locator("#till")).to_be_visible()

    await context.set_offline(True)
    await expect(page.locator("#offline")).to_be_visible()
    await page.fill("#code", "TILL-4K7M")
    await page.click("#check")
    await expect(page.locator("#verdict")).to_have_text(
        "No connection to the server: check the network, then press again."
    )
    await screenshot(page, size, "till-offline")
    await context.set_offline(False)
    await expect(page.locator("#offline")).to_be_hidden()
    await page.click("#check")
    await expect(page.locator("#verdict")).to_have_text("Valid")

    await page.click("#forget-key")
    await expect(page.locator("#key-section")).to_be_visible()
    await expect(page.locator("header.brand")).not_to_contain_text("Corner Bakery")
    await screenshot(page, size, "till-signed-out")
    assert await page.evaluate("() => localStorage.getItem('engage.posKey')") is None
    await page.reload()
    await expect(page.locator("#key-section")).to_be_visible()
    assert not await page.locator("#till").is_visible()

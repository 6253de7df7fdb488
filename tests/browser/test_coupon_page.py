"""The coupon page in Chromium on a phone and a desktop: every state, the code, the wallets."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page
from starlette.applications import Starlette

from api.settings import Settings
from domain.codes import Code
from domain.common import utc_now
from tests.browser.conftest import Size, screenshot
from tests.factories import Tenant, make_coupon

# Stand-ins for the official badge files, which cannot ship: the page must show whatever the
# operator installed, as an image.
BADGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="150" height="48" viewBox="0 0 150 48">'
    '<rect width="150" height="48" rx="8" fill="#000"/><text x="75" y="30" fill="#fff" '
    'font-family="sans-serif" font-size="13" text-anchor="middle">{}</text></svg>'
)


async def layout(page: Page) -> dict[str, Any]:
    """Where the code's groups and the page's key parts are drawn."""
    return await page.evaluate(
        """() => {
          const box = (el) => el ? el.getBoundingClientRect().toJSON() : null;
          const groups = [...document.querySelectorAll('#code .group')];
          return {
            groups: groups.map((g) => ({ text: g.textContent, lines: g.getClientRects().length,
                                          top: g.getBoundingClientRect().top })),
            code: box(document.getElementById('code')),
            offer: box(document.querySelector('h1')),
            expiry: box(document.getElementById('expiry')),
            state: document.getElementById('state') ? document.getElementById('state').innerText
                                                     : null,
            overflow: document.documentElement.scrollWidth > window.innerWidth,
            header: document.querySelector('header.brand').innerText,
          };
        }"""
    )


async def shown(page: Page, selector: str) -> bool:
    return await page.locator(selector).count() > 0 and await page.locator(selector).is_visible()


async def test_an_active_coupon_fits_the_screen_with_offer_code_and_expiry_above_the_fold(
    page: Page, size: Size, tenant: Tenant
) -> None:
    await make_coupon(
        project_id=tenant.project_id,
        display="FALL-QE27-GMK",
        ends_at=utc_now() + timedelta(days=12),
    )
    await make_coupon(project_id=tenant.project_id, display="WINTER-ABCD-EFGH-JKMN-PQRS-TUVW")

    await page.goto("/c/FALL-QE27-GMK")
    await screenshot(page, size, "coupon-active")
    drawn = await layout(page)

    assert [g["text"] for g in drawn["groups"]] == ["FALL", "QE27", "GMK"]
    # One line: every group at the same height, none split.
    assert len({round(g["top"]) for g in drawn["groups"]}) == 1
    assert all(g["lines"] == 1 for g in drawn["groups"])
    assert not drawn["overflow"]
    assert drawn["code"]["right"] <= size.width
    assert drawn["expiry"]["bottom"] <= size.height
    assert drawn["offer"]["top"] < drawn["code"]["top"] < drawn["expiry"]["top"]
    assert drawn["header"] == "Shop A"
    assert drawn["state"] is None
    assert await shown(page, "#copy") and await shown(page, ".qr svg")
    assert "Ends in 11 days" in await page.inner_text("#countdown")
    # Development credentials only: no wallet button that would fail on a phone.
    assert await page.locator("#wallets").count() == 0

    await page.goto("/c/WINTER-ABCD-EFGH-JKMN-PQRS-TUVW")
    await screenshot(page, size, "coupon-long-code")
    long = await layout(page)
    assert all(g["lines"] == 1 for g in long["groups"])
    assert not long["overflow"] and long["code"]["right"] <= size.width


async def test_used_expired_paused_and_unknown_coupons_each_show_one_dated_state(
    page: Page, size: Size, tenant: Tenant
) -> None:
    await make_coupon(project_id=tenant.project_id, display="USED-7Q2K", redeemed=3)
    await Code.get_pymongo_collection().update_one(
        {"code": "USED7Q2K"},
        {"$set": {"last_redeemed_at": datetime(2031, 3, 14, 15, 9, tzinfo=UTC)}},
    )
    await make_coupon(
        project_id=tenant.project_id,
        display="OVER-4M8P",
        ends_at=datetime(2024, 1, 31, 23, 0, tzinfo=UTC),
    )
    paused, _ = await make_coupon(project_id=tenant.project_id, display="HOLD-9X3T")
    pause = "mutation ($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
    await tenant.gql(pause, {"id": paused.key})
    expected = {
        "USED-7Q2K": ("coupon-used", "Already used\non 14 March 2031, 16:09 (Europe/Paris)"),
        "OVER-4M8P": ("coupon-expired", "Expired\non 1 February 2024, 00:00 (Europe/Paris)"),
        "HOLD-9X3T": ("coupon-paused", "Paused: this offer cannot be used at the moment\nsince"),
    }
    for display, (shot, state) in expected.items():
        await page.goto(f"/c/{display}")
        await screenshot(page, size, shot)
        drawn = await layout(page)
        assert drawn["state"].startswith(state), display
        body = await page.inner_text("main")
        assert body.count("Already used") + body.count("Expired") + body.count("Paused") == 1
        for gone in ("#copy", ".qr", "#countdown", "#wallets", ".shop"):
            assert await page.locator(gone).count() == 0, (display, gone)
        assert "Show this code at the till" not in body
        assert not drawn["overflow"]

    response = await page.goto("/c/NEVER-ISSUED")
    await screenshot(page, size, "coupon-not-found")
    assert response is not None and response.status == 404
    assert "Coupon not found" in await page.inner_text("main")


async def test_wallet_buttons_with_real_credentials_plain_until_badges_are_installed(
    page: Page, size: Size, tenant: Tenant, app: Starlette, settings: Settings, tmp_path: Path
) -> None:
    await make_coupon(project_id=tenant.project_id, display="PASS-2B7R")
    badges = tmp_path / "badges"
    app.state.settings = settings.model_copy(
        update={
            "apple_pass_certificate": tmp_path / "pass.pem",
            "apple_pass_key": tmp_path / "pass.key",
            "apple_wwdr_certificate": tmp_path / "wwdr.pem",
            "google_service_account_file": tmp_path / "google.json",
            "wallet_badges_dir": badges,
        }
    )

    await page.goto("/c/PASS-2B7R")
    await screenshot(page, size, "coupon-wallets-plain")
    assert await page.inner_text("#apple-wallet") == "Add to Apple Wallet"
    assert await page.inner_text("#google-wallet") == "Add to Google Wallet"
    assert await page.locator("#wallets img").count() == 0
    # Right under the code and its Copy button: in view on a phone without scrolling.
    for button in ("#apple-wallet", "#google-wallet"):
        drawn = await page.locator(button).bounding_box()
        assert drawn is not None and drawn["y"] + drawn["height"] <= size.height, button

    badges.mkdir()
    (badges / "add-to-apple-wallet.svg").write_text(BADGE.format("Add to Apple Wallet"))
    (badges / "add-to-google-wallet.svg").write_text(BADGE.format("Add to Google Wallet"))
    await page.goto("/c/PASS-2B7R")
    await page.wait_for_load_state("load")
    await screenshot(page, size, "coupon-wallets-badges")
    loaded = await page.evaluate(
        "() => [...document.querySelectorAll('#wallets img')]"
        ".map((img) => img.complete && img.naturalWidth > 0)"
    )
    assert loaded == [True, True]
    assert not (await layout(page))["overflow"]

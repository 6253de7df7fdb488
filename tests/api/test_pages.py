"""The coupon page (/c/{code}) and the till page (/pos)."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import segno
from starlette.applications import Starlette

from api.settings import Settings
from domain.campaigns import Campaign, CampaignStatus, Discount, DiscountType, Limits
from domain.codes import Code
from domain.common import Money, utc_now
from domain.projects import Brand, Project, Role, create_api_key
from tests.factories import Tenant, make_coupon

# Every response carries its own nonce; the rest of a 404 page must be identical.
NONCE = re.compile(r'nonce="[^"]*"')


async def test_coupon_page_shows_offer_code_qr_expiry_and_uses(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id},
        {
            "$set": {
                "brand": Brand(
                    name="Bakery Bloom",
                    primary_color="#123456",
                    logo_url="https://cdn.example/logo.png",
                ).model_dump()
            }
        },
    )
    await make_coupon(project_id=tenant.project_id, redeemed=1)

    response = await http.get("/c/spring-ab12")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'nonce-" in response.headers["content-security-policy"]
    page = response.text
    assert '<meta name="viewport"' in page
    assert "Bakery Bloom" in page and "--primary: #123456" in page
    assert '<img src="https://cdn.example/logo.png"' in page
    assert "15% off" in page and "Spring sale" in page
    assert "SPRING-AB12" in page
    assert "<svg" in page and 'viewBox="' in page
    assert "2 uses left" in page
    # 21:59 UTC is 23:59 in Paris in summer.
    assert "30 June 2099, 23:59 (Europe/Paris)" in page
    assert 'data-ends="2099-06-30T21:59:00+00:00"' in page
    assert "One use per visit." in page
    assert "<link" not in page and 'src="http' not in page.replace('src="https://cdn', "")


async def test_coupon_page_describes_each_kind_of_offer(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    eur = Money(amount=500, currency="EUR")
    offers = {
        "AMOUNT1": (Discount(type=DiscountType.AMOUNT, amount_off=eur), "€5.00 off"),
        "SHIP1": (Discount(type=DiscountType.FREE_SHIPPING), "Free shipping"),
        "FIXED1": (
            Discount(type=DiscountType.FIXED_PRICE, fixed_price=Money(amount=990, currency="EUR")),
            "Now €9.90",
        ),
    }
    for display, (discount, _) in offers.items():
        await make_coupon(project_id=tenant.project_id, display=display, discount=discount)
    for display, (_, text) in offers.items():
        assert text in (await http.get(f"/c/{display}")).text


async def test_coupon_page_states_used_expired_paused_and_not_started(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    now = utc_now()
    await make_coupon(project_id=tenant.project_id, display="USED1", redeemed=3)
    await make_coupon(
        project_id=tenant.project_id, display="OVER1", ends_at=now - timedelta(days=1)
    )
    await make_coupon(project_id=tenant.project_id, display="HOLD1", status=CampaignStatus.PAUSED)
    await make_coupon(
        project_id=tenant.project_id, display="SOON1", starts_at=now + timedelta(days=2)
    )
    expected = {
        "USED1": "Already used",
        "OVER1": "Expired",
        "HOLD1": "Paused",
        "SOON1": "Not started yet",
    }
    for display, text in expected.items():
        page = (await http.get(f"/c/{display}")).text
        assert text in page, display
        assert "uses left" not in page
    assert 'id="countdown"' not in (await http.get("/c/OVER1")).text


async def test_coupon_page_links_to_the_shop_while_the_coupon_can_be_used(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    brand = """mutation ($input: BrandInput!) {
      updateBrand(input: $input) { project { brand { shopUrl } } errors { code field } } }"""
    shop = "https://shop.example/cart?lang=fr"
    updated = (await tenant.gql(brand, {"input": {"shopUrl": shop}}))["updateBrand"]
    assert updated == {"project": {"brand": {"shopUrl": shop}}, "errors": []}
    await make_coupon(project_id=tenant.project_id, display="LINK-1")
    await make_coupon(project_id=tenant.project_id, display="LINK-2", redeemed=3)

    usable = (await http.get("/c/link-1")).text
    assert 'href="https://shop.example/cart?lang=fr&amp;code=LINK1"' in usable
    assert "Use it in the shop" in usable
    assert "Use it in the shop" not in (await http.get("/c/LINK-2")).text


async def test_unknown_code_gets_a_404_page_that_echoes_nothing(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await make_coupon(project_id=tenant.project_id, display="SHARED-99")
    await make_coupon(project_id=other_tenant.project_id, display="SHARED-99")

    unknown = await http.get("/c/NEVER-ISSUED-42")
    ambiguous = await http.get("/c/SHARED-99")
    hostile = await http.get("/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E")

    assert unknown.status_code == ambiguous.status_code == hostile.status_code == 404
    pages = {NONCE.sub("", r.text) for r in (unknown, ambiguous, hostile)}
    assert len(pages) == 1
    assert unknown.headers["cache-control"] == "no-store"
    assert "NEVER" not in unknown.text and "SHARED" not in unknown.text
    assert "<script>alert" not in hostile.text


async def test_coupon_page_escapes_campaign_text(http: httpx.AsyncClient, tenant: Tenant) -> None:
    await make_coupon(
        project_id=tenant.project_id,
        display="SAFE-1",
        name="<script>alert('name')</script>",
        description="<img src=x onerror=alert(1)>",
        terms="</p><script>alert('terms')</script>",
    )
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id},
        {"$set": {"brand.name": "<b>Shop</b>", "brand.primary_color": "red;}</style><script>"}},
    )

    page = (await http.get("/c/SAFE-1")).text

    assert "<script>alert" not in page and "<img src=x" not in page and "<b>Shop" not in page
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page
    assert "&lt;/p&gt;&lt;script&gt;alert(&#39;terms&#39;)" in page
    assert "--primary: #1f2937" in page


async def test_pos_page_is_self_contained_and_holds_no_secrets(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    response = await http.get("/pos")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "connect-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert '<meta name="viewport"' in page
    assert "localStorage" in page and "BarcodeDetector" in page and "randomUUID" in page
    assert ".innerHTML" not in page and "insertAdjacentHTML" not in page
    assert tenant.admin_key not in page and settings.secret_key not in page
    assert settings.database not in page
    assert "<link" not in page and "<script src" not in page


def page_documents(page: str) -> dict[str, str]:
    """The GraphQL documents the till page sends, as written in its script."""
    found = re.findall(r'var (BRAND|CHECK|REDEEM|STATUS) = ((?:"[^"]*"\s*\+?\s*)+);', page)
    return {name: "".join(re.findall(r'"([^"]*)"', parts)) for name, parts in found}


async def test_pos_page_queries_work_with_a_pos_key(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    documents = page_documents((await http.get("/pos")).text)
    assert set(documents) == {"BRAND", "CHECK", "REDEEM", "STATUS"}
    await make_coupon(project_id=tenant.project_id, display="TILL-0001", limits=Limits(per_code=1))
    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)
    order = {"amount": {"amount": 2000, "currency": "EUR"}}
    check = {"code": "till 0001", "customerEmail": None, "order": order}

    assert (await pos(documents["BRAND"]))["brand"]["displayName"] == "Shop A"
    before = await pos(documents["CHECK"], check)
    assert before["validateCode"] == {
        "valid": True,
        "reasons": [],
        "discount": {"amount": 300, "currency": "EUR"},
        "amountToPay": {"amount": 1700, "currency": "EUR"},
    }
    assert before["code"] == {"status": "ACTIVE", "offer": "15% off", "lastRedeemedAt": None}

    redeem = {**check, "code": "TILL-0001", "idempotencyKey": "till-press-1"}
    first = (await pos(documents["REDEEM"], redeem))["redeemCode"]
    pressed_again = (await pos(documents["REDEEM"], redeem))["redeemCode"]
    assert first["errors"] == pressed_again["errors"] == []
    assert pressed_again["redemption"]["id"] == first["redemption"]["id"]
    assert first["redemption"]["discount"] == {"amount": 300, "currency": "EUR"}

    after = await pos(documents["CHECK"], check)
    assert after["validateCode"]["valid"] is False
    assert after["code"]["status"] == "REDEEMED"
    assert after["code"]["lastRedeemedAt"] is not None
    second_try = {**redeem, "idempotencyKey": "till-press-2"}
    refused = (await pos(documents["REDEEM"], second_try))["redeemCode"]
    assert refused["redemption"] is None and refused["errors"]
    status = await pos(documents["STATUS"], {"code": "TILL-0001"})
    assert status["code"]["lastRedeemedAt"] == after["code"]["lastRedeemedAt"]


def main_html(page: str) -> str:
    """The page's content, without its style and script."""
    return page.split("<main>", 1)[1].split("</main>", 1)[0]


def main_text(page: str) -> str:
    """The page's visible text, roughly."""
    return " ".join(re.sub(r"<[^>]+>", " ", main_html(page)).split())


async def test_a_used_expired_or_paused_code_shows_one_state_with_its_date_and_nothing_else(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    used_at = datetime(2031, 3, 14, 15, 9, tzinfo=UTC)
    await make_coupon(project_id=tenant.project_id, display="USED-2", redeemed=3)
    await Code.get_pymongo_collection().update_one(
        {"code": "USED2"}, {"$set": {"last_redeemed_at": used_at}}
    )
    await make_coupon(
        project_id=tenant.project_id,
        display="OVER-2",
        ends_at=datetime(2024, 1, 31, 23, 0, tzinfo=UTC),
    )
    paused, _ = await make_coupon(project_id=tenant.project_id, display="HOLD-2")
    pause = "mutation ($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
    assert (await tenant.gql(pause, {"id": paused.key}))["pauseCampaign"]["errors"] == []

    used = await http.get("/c/USED-2")
    expired = await http.get("/c/OVER-2")
    held = await http.get("/c/HOLD-2")

    assert "Already used on 14 March 2031, 16:09 (Europe/Paris)" in main_text(used.text)
    assert "Expired on 1 February 2024, 00:00 (Europe/Paris)" in main_text(expired.text)
    paused_at = (await Campaign.get(paused.id)).status_changed_at  # type: ignore[union-attr]
    assert paused_at is not None
    assert "Paused: this offer cannot be used at the moment since" in main_text(held.text)
    for page in (main_html(used.text), main_html(expired.text), main_html(held.text)):
        text = main_text(f"<main>{page}</main>")
        assert text.count("Already used") + text.count("Expired") + text.count("Paused") == 1
        assert 'id="copy"' not in page and "<svg" not in page and "countdown" not in page
        assert "Show this code at the till" not in page and "Wallet" not in page
        assert "uses left" not in page


async def test_pausing_twice_keeps_the_first_pause_date(tenant: Tenant) -> None:
    campaign, _ = await make_coupon(project_id=tenant.project_id, display="HOLD-3")
    pause = "mutation ($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
    await tenant.gql(pause, {"id": campaign.key})
    first = (await Campaign.get(campaign.id)).status_changed_at  # type: ignore[union-attr]
    await tenant.gql(pause, {"id": campaign.key})
    assert (await Campaign.get(campaign.id)).status_changed_at == first  # type: ignore[union-attr]
    assert first is not None


async def test_the_code_is_split_only_between_its_groups(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    await make_coupon(project_id=tenant.project_id, display="FALL-QE27-GMK")
    page = (await http.get("/c/FALL-QE27-GMK")).text
    assert (
        '<span class="group">FALL</span>-<wbr><span class="group">QE27</span>-<wbr>'
        '<span class="group">GMK</span>'
    ) in page
    assert ".code .group { white-space: nowrap; }" in page
    await make_coupon(project_id=tenant.project_id, display="SUMMER SALE")
    spaced = (await http.get("/c/summersale")).text
    assert '<span class="group">SUMMER</span> <wbr><span class="group">SALE</span>' in spaced
    # Offer, code and the expiry come first, before the QR code.
    assert (
        page.index("15% off") < page.index("FALL") < page.index("Valid until") < page.index("<svg")
    )


async def test_the_header_shows_a_tidy_project_name_until_a_brand_name_is_set(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    await make_coupon(project_id=tenant.project_id, display="NAME-1")
    assert "<span>Shop A</span>" in (await http.get("/c/NAME-1")).text
    brand = 'mutation { updateBrand(input: {name: "Bakery Bloom"}) { errors { code } } }'
    await tenant.gql(brand)
    assert "<span>Bakery Bloom</span>" in (await http.get("/c/NAME-1")).text


async def test_wallet_buttons_show_only_with_real_credentials_and_official_badges_once_installed(
    http: httpx.AsyncClient, tenant: Tenant, app: Starlette, settings: Settings, tmp_path: Path
) -> None:
    await make_coupon(project_id=tenant.project_id, display="PASS-1")
    assert "Wallet" not in (await http.get("/c/PASS-1")).text

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
    plain = (await http.get("/c/PASS-1")).text
    assert 'class="button wallet" id="apple-wallet" href="http://testserver/passes/apple/' in plain
    assert (
        'class="button wallet" id="google-wallet" href="http://testserver/passes/google/' in plain
    )
    assert "<img" not in plain.split('id="wallets"')[1]

    badges.mkdir()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="110" height="34"/>'
    (badges / "add-to-apple-wallet.svg").write_bytes(svg)
    (badges / "add-to-google-wallet.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    badged = (await http.get("/c/PASS-1")).text
    assert '<img src="/wallet-badges/add-to-apple-wallet.svg" alt="Add to Apple Wallet">' in badged
    assert (
        '<img src="/wallet-badges/add-to-google-wallet.png" alt="Add to Google Wallet">' in badged
    )
    assert "img-src 'self'" in (await http.get("/c/PASS-1")).headers["content-security-policy"]

    served = await http.get("/wallet-badges/add-to-apple-wallet.svg")
    assert served.status_code == 200 and served.content == svg
    assert served.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in served.headers["content-security-policy"]
    assert (await http.get("/wallet-badges/add-to-apple-wallet.png")).status_code == 404
    assert (await http.get("/wallet-badges/..%2Fsecret-key")).status_code == 404


def grey_qr(text: str, scale: int = 5, border: int = 4) -> tuple[bytes, int]:
    """A QR code as one grey byte per pixel, as the till page sends a photo: (pixels, side)."""
    matrix = segno.make(text, error="m").matrix
    side = (len(matrix) + 2 * border) * scale
    pixels = bytearray(b"\xff" * side * side)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = ((y + border) * scale + dy) * side + (x + border) * scale
                    pixels[start : start + scale] = b"\x00" * scale
    return bytes(pixels), side


async def test_a_till_photo_of_the_qr_code_is_read_by_the_server(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    pos = (await create_api_key(tenant.project_id, Role.POS)).secret
    pixels, side = grey_qr("http://testserver/c/FALLQE27GMK")

    def scan(content: bytes, key: str | None, width: int = side) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return http.post(f"/pos/scan?width={width}&height={side}", content=content, headers=headers)

    read = await scan(pixels, pos)
    assert read.status_code == 200 and read.json() == {"text": "http://testserver/c/FALLQE27GMK"}
    assert (await scan(pixels, None)).status_code == 401
    assert (await scan(pixels, "ek_wrong")).status_code == 401
    assert (await scan(pixels, pos, width=side + 1)).status_code == 422
    blank = await scan(b"\xff" * side * side, pos)
    assert blank.status_code == 422 and "No QR code" in blank.json()["message"]
    too_big = await http.post(
        "/pos/scan?width=4096&height=4096", content=b"", headers={"Authorization": f"Bearer {pos}"}
    )
    assert too_big.status_code == 422


async def test_photo_scans_are_limited_per_address(
    http: httpx.AsyncClient, tenant: Tenant, app: Starlette, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"rate_limit_pos_scans_per_address": "2/day"})
    pos = (await create_api_key(tenant.project_id, Role.POS)).secret
    pixels, side = grey_qr("http://testserver/c/FALLQE27GMK")
    answers = [
        await http.post(
            f"/pos/scan?width={side}&height={side}",
            content=pixels,
            headers={"Authorization": f"Bearer {pos}"},
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1

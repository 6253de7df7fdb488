"""The coupon page (/c/{code}) and the till page (/pos)."""

import re
from datetime import timedelta

import httpx

from api.settings import Settings
from domain.campaigns import CampaignStatus, Discount, DiscountType, Limits
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
    assert "sessionStorage" in page and "BarcodeDetector" in page and "randomUUID" in page
    assert ".innerHTML" not in page and "insertAdjacentHTML" not in page
    assert tenant.admin_key not in page and settings.secret_key not in page
    assert settings.database not in page
    assert "<link" not in page and "<script src" not in page


def page_documents(page: str) -> dict[str, str]:
    """The GraphQL documents the till page sends, as written in its script."""
    found = re.findall(r'var (CHECK|REDEEM|STATUS) = ((?:"[^"]*"\s*\+?\s*)+);', page)
    return {name: "".join(re.findall(r'"([^"]*)"', parts)) for name, parts in found}


async def test_pos_page_queries_work_with_a_pos_key(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    documents = page_documents((await http.get("/pos")).text)
    assert set(documents) == {"CHECK", "REDEEM", "STATUS"}
    await make_coupon(project_id=tenant.project_id, display="TILL-0001", limits=Limits(per_code=1))
    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)
    order = {"amount": {"amount": 2000, "currency": "EUR"}}
    check = {"code": "till 0001", "customerId": None, "order": order}

    before = await pos(documents["CHECK"], check)
    assert before["validateCode"] == {
        "valid": True,
        "reasons": [],
        "discount": {"amount": 300, "currency": "EUR"},
    }
    assert before["code"] == {"status": "ACTIVE", "lastRedeemedAt": None}

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

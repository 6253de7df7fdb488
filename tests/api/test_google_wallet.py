"""Google Wallet over HTTP: save-link redirects and who may follow them, wallet URLs in GraphQL,
and the buttons on the coupon page."""

import re
from html import unescape
from urllib.parse import urlsplit

import httpx
import jwt
from starlette.applications import Starlette

from api.settings import Settings
from delivery.wallet import google
from delivery.wallet.walletobjects_schema import problems
from domain import links, loyalty
from domain.campaigns import Campaign, CampaignKind, Discount, DiscountType
from domain.codes import Code, normalize_code
from domain.customers import Customer, issue_customer_token
from domain.loyalty_config import LoyaltyConfig
from domain.wallet import PassKind, WalletPass
from tests.factories import Tenant

ISSUER = "3388000000000000000"
CODE_URLS = "query ($code: String!) { code(code: $code) { appleWalletUrl googleWalletUrl } }"
CARD_URL = """query ($customerId: ID!, $campaignId: ID!) {
  loyaltyCard(customerId: $customerId, campaignId: $campaignId) { points googleWalletUrl } }"""


async def a_code(tenant: Tenant, display: str = "GIFT-42", customer_id: str = "") -> Code:
    campaign = Campaign(
        project_id=tenant.project_id,
        name="Gift",
        discount=Discount(type=DiscountType.PERCENT, percent_off=20),
    )
    await campaign.insert()
    code = Code(
        project_id=tenant.project_id,
        code=normalize_code(display),
        display=display,
        campaign_id=campaign.key,
        customer_id=customer_id,
        assigned=bool(customer_id),
    )
    await code.insert()
    return code


def claims_of(settings: Settings, location: str) -> dict[str, object]:
    assert location.startswith("https://pay.google.com/gp/v/save/")
    assert len(location) < 1800
    public = google.service_account(settings=settings).public_key_pem
    token = location.removeprefix(google.SAVE_URL)
    decoded: dict[str, object] = jwt.decode(token, public, algorithms=["RS256"], audience="google")
    return decoded


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_good_token_redirects_to_a_signed_save_link(
    tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    code = await a_code(tenant)
    url = links.google_wallet_url("", settings.secret_key, tenant.project_id, code.code)

    response = await http.get(url)

    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    claims = claims_of(settings, response.headers["location"])
    payload = claims["payload"]
    assert isinstance(payload, dict)
    [sent] = payload["offerObjects"]
    assert sent["id"] == google.offer_object_id(issuer_id=ISSUER, code=code)
    assert sent["barcode"]["value"] == "GIFT42"
    assert problems("OfferObject", sent) == []
    assert [c["id"] for c in payload["offerClasses"]] == [sent["classId"]]
    # Issued: later changes of the code now queue Google updates.
    wallet_pass = await WalletPass.find_one({"project_id": tenant.project_id})
    assert wallet_pass is not None
    assert (wallet_pass.kind, wallet_pass.code, wallet_pass.google_issued) == (
        PassKind.COUPON,
        "GIFT42",
        True,
    )
    assert wallet_pass.google_object_id == sent["id"]
    # Typed any way the code is typed.
    again = await http.get(f"/passes/google/gift-42?token={url.split('token=')[1]}")
    assert again.status_code == 302


async def test_bad_tokens_are_refused_and_unknown_codes_are_not_found(
    tenant: Tenant, other_tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    code = await a_code(tenant)
    other = await a_code(tenant, "OTHER-1")
    theirs = await a_code(other_tenant, "THEIRS-1")
    good_for_other = links.pass_link_token(settings.secret_key, tenant.project_id, other.code)
    wrong_project = links.pass_link_token(settings.secret_key, other_tenant.project_id, code.code)

    assert (await http.get("/passes/google/GIFT42")).status_code == 403
    assert (await http.get("/passes/google/GIFT42?token=nope")).status_code == 403
    assert (await http.get(f"/passes/google/GIFT42?token={good_for_other}")).status_code == 403
    assert (await http.get(f"/passes/google/GIFT42?token={wrong_project}")).status_code == 403
    # An admin key is not the customer's token.
    admin = {"Authorization": f"Bearer {tenant.admin_key}"}
    assert (await http.get("/passes/google/GIFT42", headers=admin)).status_code == 403
    assert (await http.get(f"/passes/google/NOSUCH?token={good_for_other}")).status_code == 404
    assert (await http.get("/passes/google/a/b")).status_code == 404
    assert await WalletPass.find_all().count() == 0
    ok = links.pass_link_token(settings.secret_key, other_tenant.project_id, theirs.code)
    assert (await http.get(f"/passes/google/THEIRS1?token={ok}")).status_code == 302


async def test_the_same_code_in_two_projects_opens_the_one_its_token_names(
    tenant: Tenant, other_tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    ours = await a_code(tenant)
    theirs = await a_code(other_tenant)
    for code in (ours, theirs):
        url = links.google_wallet_url("", settings.secret_key, code.project_id, code.code)
        response = await http.get(url)
        assert response.status_code == 302
        payload = claims_of(settings, response.headers["location"])["payload"]
        assert isinstance(payload, dict)
        [sent] = payload["offerObjects"]
        assert sent["id"] == google.offer_object_id(issuer_id=ISSUER, code=code)
    assert {w.project_id async for w in WalletPass.find_all()} == {
        tenant.project_id,
        other_tenant.project_id,
    }


async def test_the_customer_holding_the_code_may_use_their_token(
    tenant: Tenant, http: httpx.AsyncClient
) -> None:
    owner = Customer(project_id=tenant.project_id, name="Ada")
    stranger = Customer(project_id=tenant.project_id, name="Bob")
    await owner.insert()
    await stranger.insert()
    await a_code(tenant, "MINE-1", customer_id=owner.key)
    owner_token = await issue_customer_token(tenant.project_id, owner.key)
    stranger_token = await issue_customer_token(tenant.project_id, stranger.key)

    mine = await http.get(
        "/passes/google/MINE1", headers={"Authorization": f"Bearer {owner_token}"}
    )
    not_mine = await http.get(
        "/passes/google/MINE1", headers={"Authorization": f"Bearer {stranger_token}"}
    )

    assert mine.status_code == 302
    assert not_mine.status_code == 403


async def test_code_wallet_urls_over_graphql_open_the_passes(
    tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    code = await a_code(tenant)

    urls = (await tenant.gql(CODE_URLS, {"code": "gift-42"}))["code"]

    base, secret = "http://testserver", settings.secret_key
    assert urls == {
        "appleWalletUrl": links.apple_wallet_url(base, secret, tenant.project_id, code.code),
        "googleWalletUrl": links.google_wallet_url(base, secret, tenant.project_id, code.code),
    }
    assert urls["appleWalletUrl"].startswith("http://testserver/passes/apple/GIFT42.pkpass?token=")
    followed = await http.get(local(urls["googleWalletUrl"]))
    assert followed.status_code == 302
    claims_of(settings, followed.headers["location"])


async def test_a_loyalty_card_gets_its_own_save_link(
    tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    program = Campaign(
        project_id=tenant.project_id,
        name="Points",
        kind=CampaignKind.LOYALTY,
        loyalty=LoyaltyConfig(),
    )
    await program.insert()
    ada = Customer(project_id=tenant.project_id, name="Ada")
    await ada.insert()
    variables = {"customerId": ada.key, "campaignId": program.key}
    assert (await tenant.gql(CARD_URL, variables))["loyaltyCard"]["googleWalletUrl"] is None
    await loyalty.grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=30,
        key="welcome",
        reason="test",
    )

    card = (await tenant.gql(CARD_URL, variables))["loyaltyCard"]
    response = await http.get(local(card["googleWalletUrl"]))

    assert response.status_code == 302
    payload = claims_of(settings, response.headers["location"])["payload"]
    assert isinstance(payload, dict)
    [klass] = payload["loyaltyClasses"]
    [sent] = payload["loyaltyObjects"]
    assert problems("LoyaltyClass", klass) == [] and problems("LoyaltyObject", sent) == []
    assert sent["loyaltyPoints"] == {"label": "Points", "balance": {"int": 30}}
    assert sent["accountName"] == "Ada" and sent["classId"] == klass["id"]
    stored = await loyalty.find_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=ada.key
    )
    wallet_pass = await WalletPass.find_one({"project_id": tenant.project_id})
    assert wallet_pass is not None and wallet_pass.google_issued
    assert (wallet_pass.kind, wallet_pass.card_id) == (PassKind.STORE_CARD, stored.key)

    path = f"/passes/google/cards/{stored.key}"
    code_token = links.pass_link_token(settings.secret_key, tenant.project_id, stored.key)
    assert (await http.get(f"{path}?token={code_token}")).status_code == 403
    assert (await http.get(path)).status_code == 403
    ada_token = await issue_customer_token(tenant.project_id, ada.key)
    owner = {"Authorization": f"Bearer {ada_token}"}
    assert (await http.get(path, headers=owner)).status_code == 302
    assert (await http.get("/passes/google/cards/000000000000000000000000")).status_code == 404
    assert (await http.get("/passes/google/cards/not-an-id")).status_code == 404


async def test_the_coupon_page_offers_both_wallets_once_real_credentials_are_set(
    tenant: Tenant, http: httpx.AsyncClient, settings: Settings, app: Starlette
) -> None:
    code = await a_code(tenant)
    wallet_buttons = r'<a class="button wallet" id="[a-z-]+" href="([^"]+)"[^>]*>([^<]+)</a>'
    # A development key signs links Google refuses: no button that would fail on a phone.
    assert re.findall(wallet_buttons, (await http.get("/c/GIFT42")).text) == []
    google.development_account(data_dir=settings.data_dir)
    app.state.settings = settings.model_copy(
        update={
            "google_service_account_file": settings.data_dir / google.DEVELOPMENT_KEY_FILE,
            "apple_pass_certificate": settings.data_dir / "pass.pem",
            "apple_pass_key": settings.data_dir / "pass.key",
            "apple_wwdr_certificate": settings.data_dir / "wwdr.pem",
        }
    )

    page = await http.get("/c/GIFT42")

    assert page.status_code == 200
    buttons = {
        unescape(label): unescape(href) for href, label in re.findall(wallet_buttons, page.text)
    }
    base, secret = "http://testserver", settings.secret_key
    assert buttons == {
        "Add to Apple Wallet": links.apple_wallet_url(base, secret, tenant.project_id, code.code),
        "Add to Google Wallet": links.google_wallet_url(base, secret, tenant.project_id, code.code),
    }
    assert (await http.get(local(buttons["Add to Google Wallet"]))).status_code == 302


async def test_the_default_program_logo_is_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/passes/google/logo.png")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")

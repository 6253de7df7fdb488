"""Google Wallet: classes and objects checked against the walletobjects discovery schema, signed
save links, and object updates through the outbox (HttpMockSequence and a local Google)."""

import json
import re
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from googleapiclient.http import HttpMockSequence

from api.settings import Settings
from delivery import sink
from delivery.channels import PermanentSendError, TransientSendError
from delivery.wallet import google
from delivery.wallet.walletobjects_schema import problems
from delivery.worker import OutboxWorker
from domain import loyalty, projects, wallet
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, Discount, DiscountType, Limits
from domain.codes import Code, normalize_code
from domain.customers import Customer
from domain.discounts import Order
from domain.loyalty_config import LoyaltyConfig, LoyaltyTier
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import BrandChanges, Project
from domain.redemptions import RedemptionChannel, redeem_code
from domain.wallet import PassKind, WalletPass
from tests.factories import Tenant

ISSUER = "3388000000000000000"
ID = re.compile(r"^3388000000000000000\.[A-Za-z0-9._-]+$")
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TEN_PERCENT = Discount(type=DiscountType.PERCENT, percent_off=10)


def empties(value: Any, path: str = "") -> list[str]:
    """Every None, empty string or empty object inside `value`: Google must never get them."""
    found: list[str] = []
    if value is None or value == "" or value == {}:
        found.append(path or "(root)")
    elif isinstance(value, dict):
        for key, inner in value.items():
            found += empties(inner, f"{path}/{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += empties(inner, f"{path}/{index}")
    return found


def assert_valid(type_name: str, instance: dict[str, Any]) -> None:
    assert problems(type_name, instance) == [], (type_name, instance)
    assert empties(instance) == [], instance


async def branded(tenant: Tenant, **brand: str) -> Project:
    values = {
        "name": "Café Zoë",
        "primary_color": "#0a8",
        "logo_url": "https://cdn.example.com/logo.png",
        "shop_url": "https://shop.example.com/",
    }
    values.update(brand)
    return await projects.update_brand(tenant.project_id, BrandChanges(**values))


async def offer(
    tenant: Tenant, display: str = "SPRING-AB12", **fields: Any
) -> tuple[Campaign, Code]:
    values: dict[str, Any] = {
        "name": "Spring sale",
        "discount": TEN_PERCENT,
        "description": "Ten percent off everything.",
        "terms": "One use per customer.",
        "limits": Limits(per_code=1),
        "starts_at": datetime(2030, 1, 1, tzinfo=UTC),
        "ends_at": datetime(2031, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    campaign = Campaign(project_id=tenant.project_id, **values)
    await campaign.insert()
    code = Code(
        project_id=tenant.project_id,
        code=normalize_code(display),
        display=display,
        campaign_id=campaign.key,
    )
    await code.insert()
    return campaign, code


async def program(tenant: Tenant, **fields: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": "Café points",
        "kind": CampaignKind.LOYALTY,
        "loyalty": LoyaltyConfig(tiers=[LoyaltyTier(name="Gold", threshold=100)]),
    }
    values.update(fields)
    campaign = Campaign(project_id=tenant.project_id, **values)
    await campaign.insert()
    return campaign


async def member(tenant: Tenant, name: str = "Ada Lovelace") -> Customer:
    customer = Customer(project_id=tenant.project_id, name=name)
    await customer.insert()
    return customer


async def earn(
    tenant: Tenant, customer: Customer, campaign: Campaign, points: int, key: str
) -> loyalty.LoyaltyCard:
    await loyalty.grant_points(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        customer_id=customer.key,
        points=points,
        key=key,
        reason="test",
    )
    return await loyalty.find_card(
        project_id=tenant.project_id, campaign_id=campaign.key, customer_id=customer.key
    )


async def test_every_class_and_object_validates_against_the_discovery_schema(
    tenant: Tenant,
) -> None:
    project = await branded(tenant)
    campaign, code = await offer(tenant)

    full = google.offer_class(issuer_id=ISSUER, campaign=campaign, project=project)
    assert_valid("OfferClass", full)
    assert full["issuerName"] == full["provider"] == "Café Zoë"
    assert (full["title"], full["redemptionChannel"], full["reviewStatus"]) == (
        "10% off",
        "BOTH",
        "UNDER_REVIEW",
    )
    assert full["hexBackgroundColor"] == "#00aa88"
    assert full["titleImage"]["sourceUri"]["uri"] == "https://cdn.example.com/logo.png"
    assert (full["details"], full["finePrint"]) == (campaign.description, campaign.terms)

    active = google.offer_object(
        issuer_id=ISSUER,
        code=code,
        campaign=campaign,
        coupon_url="http://testserver/c/SPRINGAB12",
        now=NOW,
    )
    assert_valid("OfferObject", active)
    assert active["state"] == "ACTIVE"
    assert active["barcode"] == {
        "type": "QR_CODE",
        "value": "SPRINGAB12",
        "alternateText": "SPRING-AB12",
    }
    assert active["validTimeInterval"] == {
        "start": {"date": "2030-01-01T00:00:00Z"},
        "end": {"date": "2031-01-01T00:00:00Z"},
    }
    assert active["classId"] == full["id"]
    assert ID.match(active["id"]) and ID.match(active["classId"])

    used = code.model_copy(update={"redeemed_count": 1})
    paused = campaign.model_copy(update={"status": CampaignStatus.PAUSED})
    ended = campaign.model_copy(update={"status": CampaignStatus.ENDED})
    unbounded = campaign.model_copy(update={"starts_at": None, "ends_at": None})
    states = {
        "used": google.offer_object(issuer_id=ISSUER, code=used, campaign=campaign, now=NOW),
        "past its end": google.offer_object(
            issuer_id=ISSUER, code=code, campaign=campaign, now=datetime(2032, 1, 1, tzinfo=UTC)
        ),
        "ended": google.offer_object(issuer_id=ISSUER, code=code, campaign=ended, now=NOW),
        "paused": google.offer_object(issuer_id=ISSUER, code=code, campaign=paused, now=NOW),
        "not started": google.offer_object(
            issuer_id=ISSUER, code=code, campaign=campaign, now=datetime(2029, 1, 1, tzinfo=UTC)
        ),
        "no window": google.offer_object(issuer_id=ISSUER, code=code, campaign=unbounded, now=NOW),
    }
    for made in states.values():
        assert_valid("OfferObject", made)
    assert {name: made["state"] for name, made in states.items()} == {
        "used": "COMPLETED",
        "past its end": "EXPIRED",
        "ended": "EXPIRED",
        "paused": "INACTIVE",
        "not started": "ACTIVE",
        "no window": "ACTIVE",
    }
    assert "validTimeInterval" not in states["no window"]

    points = await program(tenant)
    ada = await member(tenant)
    card = await earn(tenant, ada, points, 150, "welcome")
    assert card.tier == "Gold"
    klass = google.loyalty_class(
        issuer_id=ISSUER, campaign=points, project=project, base_url="http://testserver"
    )
    assert_valid("LoyaltyClass", klass)
    assert klass["programName"] == "Café points"
    assert klass["programLogo"]["sourceUri"]["uri"] == "https://cdn.example.com/logo.png"
    card_object = google.loyalty_object(
        issuer_id=ISSUER, card=card, campaign=points, customer=ada, now=NOW
    )
    assert_valid("LoyaltyObject", card_object)
    assert card_object["loyaltyPoints"] == {"label": "Points", "balance": {"int": 150}}
    assert card_object["barcode"]["value"] == card_object["accountId"] == ada.key
    assert card_object["accountName"] == "Ada Lovelace"
    assert card_object["textModulesData"] == [{"id": "tier", "header": "Tier", "body": "Gold"}]
    assert card_object["classId"] == klass["id"] and card_object["state"] == "ACTIVE"

    # No logo, no name, no tier, a paused program: required fields still come, empty ones go.
    plain = await branded(tenant, logo_url="", shop_url="", primary_color="#123")
    nameless = await member(tenant, name="")
    bare = await earn(tenant, nameless, points, 5, "hi")
    klass = google.loyalty_class(
        issuer_id=ISSUER, campaign=points, project=plain, base_url="http://testserver"
    )
    assert_valid("LoyaltyClass", klass)
    assert klass["programLogo"]["sourceUri"]["uri"] == "http://testserver/passes/google/logo.png"
    paused_program = points.model_copy(update={"status": CampaignStatus.PAUSED})
    bare_object = google.loyalty_object(
        issuer_id=ISSUER, card=bare, campaign=paused_program, customer=nameless, now=NOW
    )
    assert_valid("LoyaltyObject", bare_object)
    assert bare_object["state"] == "INACTIVE"
    assert "accountName" not in bare_object and "textModulesData" not in bare_object
    no_discount = campaign.model_copy(update={"discount": None, "description": "", "terms": ""})
    assert_valid(
        "OfferClass", google.offer_class(issuer_id=ISSUER, campaign=no_discount, project=plain)
    )
    assert (
        google.offer_class(issuer_id=ISSUER, campaign=no_discount, project=plain)["title"]
        == "Spring sale"
    )


def test_the_schema_check_rejects_what_google_would() -> None:
    good = {"id": f"{ISSUER}.code-1", "classId": f"{ISSUER}.offer-1", "state": "ACTIVE"}
    assert problems("OfferObject", good) == []
    assert any(
        "'colour' was unexpected" in p for p in problems("OfferObject", {**good, "colour": "red"})
    )
    assert any(p.startswith("state:") for p in problems("OfferObject", {**good, "state": 3}))
    assert any(p.startswith("state:") for p in problems("OfferObject", {**good, "state": "USED"}))
    missing = {"id": good["id"], "state": "ACTIVE"}
    assert any("'classId' is a required property" in p for p in problems("OfferObject", missing))
    barcode = {**good, "barcode": {"type": "QR_CODE", "value": "X", "altText": "X"}}
    assert any(p.startswith("barcode:") for p in problems("OfferObject", barcode))
    points = {**good, "loyaltyPoints": {"label": "Points", "balance": {"int": "many"}}}
    assert problems("LoyaltyObject", points) != []
    assert problems("LoyaltyClass", {"id": "x", "issuerName": "x", "programName": "x"}) != []


def public_key(settings: Settings) -> bytes:
    return google.service_account(settings=settings).public_key_pem


async def test_the_save_link_is_a_jwt_google_can_verify(tenant: Tenant, settings: Settings) -> None:
    project = await branded(tenant)
    campaign, code = await offer(tenant)

    link = google.offer_save_link(settings=settings, code=code, campaign=campaign, project=project)

    assert link.url.startswith("https://pay.google.com/gp/v/save/")
    assert len(link.url) < 1800
    token = link.url.removeprefix(google.SAVE_URL)
    account = google.service_account(settings=settings)
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "kid": account.private_key_id,
        "typ": "JWT",
    }
    claims = jwt.decode(token, public_key(settings), algorithms=["RS256"], audience="google")
    assert claims["iss"] == account.client_email
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == ["http://testserver"]
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 300
    coupon_url = "http://testserver/c/SPRINGAB12"
    full_class = google.offer_class(issuer_id=ISSUER, campaign=campaign, project=project)
    full_object = google.offer_object(
        issuer_id=ISSUER, code=code, campaign=campaign, coupon_url=coupon_url
    )
    [sent_class] = claims["payload"]["offerClasses"]
    [sent_object] = claims["payload"]["offerObjects"]
    # What did not fit was dropped in the documented order, and nothing else.
    dropped = [
        (owner, field)
        for owner, made, sent in (
            ("class", full_class, sent_class),
            ("object", full_object, sent_object),
        )
        for field in made
        if field not in sent
    ]
    assert sorted(google.OFFER_OPTIONAL[: len(dropped)]) == sorted(dropped)
    assert sent_class == {k: v for k, v in full_class.items() if ("class", k) not in dropped}
    assert sent_object == {k: v for k, v in full_object.items() if ("object", k) not in dropped}
    assert link.class_to_insert is None
    assert_valid("OfferClass", sent_class)
    assert_valid("OfferObject", sent_object)

    # A plain brand and campaign fit whole.
    plain = await branded(tenant, logo_url="", shop_url="")
    short, short_code = await offer(tenant, "PLAIN-1", description="", terms="")
    whole = google.offer_save_link(
        settings=settings, code=short_code, campaign=short, project=plain
    )
    whole_claims = jwt.decode(
        whole.url.removeprefix(google.SAVE_URL),
        public_key(settings),
        algorithms=["RS256"],
        audience="google",
    )
    assert whole_claims["payload"] == {
        "offerClasses": [google.offer_class(issuer_id=ISSUER, campaign=short, project=plain)],
        "offerObjects": [
            google.offer_object(
                issuer_id=ISSUER,
                code=short_code,
                campaign=short,
                coupon_url="http://testserver/c/PLAIN1",
            )
        ],
    }

    # The check is real: another key, or another audience, does not verify.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, stranger, algorithms=["RS256"], audience="google")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, public_key(settings), algorithms=["RS256"], audience="apple")


async def test_long_names_keep_the_link_under_1800_characters(
    tenant: Tenant, settings: Settings
) -> None:
    project = await branded(
        tenant,
        name="Ünïcödé Bäckerei " * 5 + "x" * 15,
        logo_url="https://cdn.example.com/" + "l" * 1900 + ".png",
        shop_url="https://shop.example.com/?" + "q" * 1500,
    )
    assert len(project.brand.name) == 100
    campaign, code = await offer(
        tenant,
        "LONG-" + "A" * 59,
        name="Ein sehr langer Kampagnenname " * 6 + "y" * 20,
        discount=None,
        description="d" * 10_000,
        terms="t" * 10_000,
    )

    link = google.offer_save_link(settings=settings, code=code, campaign=campaign, project=project)

    assert len(link.url) < 1800
    claims = jwt.decode(
        link.url.removeprefix(google.SAVE_URL),
        public_key(settings),
        algorithms=["RS256"],
        audience="google",
    )
    objects = claims["payload"]["offerObjects"]
    assert objects[0]["barcode"]["value"] == code.code
    assert objects[0]["classId"] == google.offer_class_id(issuer_id=ISSUER, campaign=campaign)
    assert_valid("OfferObject", objects[0])
    # The class did not fit: the link names the class to insert over REST first.
    assert "offerClasses" not in claims["payload"]
    assert link.class_to_insert == google.offer_class(
        issuer_id=ISSUER, campaign=campaign, project=project
    )
    assert_valid("OfferClass", link.class_to_insert)

    points = await program(tenant, name="P" * 200)
    ada = await member(tenant, name="N" * 200)
    card = await earn(tenant, ada, points, 7, "hi")
    card_link = google.loyalty_save_link(
        settings=settings, card=card, campaign=points, project=project, customer=ada
    )
    assert len(card_link.url) < 1800


def test_the_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", mongodb_uri="mongodb://unused")
    first = google.service_account(settings=settings)
    path = tmp_path / "var" / "wallet" / "dev" / "google-service-account.json"
    assert path.exists() and first.development
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = json.loads(path.read_text())
    assert "DEVELOPMENT" in info["description"] and info["client_email"].endswith(".invalid")
    assert list(path.parent.iterdir()) == [path]

    again = google.service_account(
        settings=Settings(data_dir=tmp_path / "var", mongodb_uri="mongodb://x")
    )
    assert again.info == first.info
    assert not Settings(data_dir=tmp_path / "var").google_configured
    with pytest.raises(ValueError, match="numeric"):
        Settings(google_issuer_id="my-issuer")


# --- updates -------------------------------------------------------------------------------


async def issue(settings: Settings, tenant: Tenant, code: Code, campaign: Campaign) -> None:
    await google.mark_issued(
        project_id=tenant.project_id,
        kind=PassKind.COUPON,
        campaign_id=campaign.key,
        wallet_object_id=google.offer_object_id(issuer_id=settings.google_issuer_id, code=code),
        code=code.code,
    )


async def redeem(tenant: Tenant, code: Code) -> None:
    await redeem_code(
        project_id=tenant.project_id,
        raw_code=code.code,
        customer_id=None,
        order=Order(id="o-1", amount={"amount": 5000, "currency": "EUR"}),
        idempotency_key="order-1",
        channel=RedemptionChannel.POS,
        api_key_id="test",
    )


async def google_updates(project_id: str) -> list[Message]:
    """The updates queued once the worker's wallet step has run on the pending markers."""
    await wallet.queue_pending_updates()
    return await Message.find(
        {"project_id": project_id, "channel": MessageChannel.GOOGLE_UPDATE.value}
    ).to_list()


async def test_a_redeemed_code_is_patched_completed(tenant: Tenant, settings: Settings) -> None:
    campaign, code = await offer(tenant, starts_at=None)
    await issue(settings, tenant, code, campaign)
    stored = await WalletPass.find_one({"project_id": tenant.project_id})
    assert stored is not None and stored.google_issued
    assert stored.google_object_id == google.offer_object_id(issuer_id=ISSUER, code=code)

    await redeem(tenant, code)

    [update] = await google_updates(tenant.project_id)
    assert update.to == google.offer_object_id(issuer_id=ISSUER, code=code)
    http = HttpMockSequence([({"status": "200"}, '{"state": "COMPLETED"}')])
    provider_id = await google.send_google_update(
        settings=settings, message=update, project=tenant.project, http=http
    )

    assert provider_id == f"google:{update.to}"
    [(uri, method, body, _headers)] = http.request_sequence
    assert method == "PATCH"
    assert uri.split("?")[0] == (
        f"https://walletobjects.googleapis.com/walletobjects/v1/offerObject/{update.to}"
    )
    assert json.loads(body) == {"state": "COMPLETED"}


async def test_a_changed_balance_is_patched(tenant: Tenant, settings: Settings) -> None:
    points = await program(tenant)
    ada = await member(tenant)
    card = await earn(tenant, ada, points, 40, "hi")
    object_id = google.loyalty_object_id(issuer_id=ISSUER, card=card)
    await google.mark_issued(
        project_id=tenant.project_id,
        kind=PassKind.STORE_CARD,
        campaign_id=points.key,
        wallet_object_id=object_id,
        card_id=card.key,
    )

    await earn(tenant, ada, points, 75, "bonus")

    updates = await google_updates(tenant.project_id)
    assert updates and {update.to for update in updates} == {object_id}
    http = HttpMockSequence([({"status": "200"}, "{}")])
    await google.send_google_update(
        settings=settings, message=updates[-1], project=tenant.project, http=http
    )
    [(uri, method, body, _headers)] = http.request_sequence
    assert (method, uri.split("?")[0]) == (
        "PATCH",
        f"https://walletobjects.googleapis.com/walletobjects/v1/loyaltyObject/{object_id}",
    )
    assert json.loads(body) == {
        "loyaltyPoints": {"label": "Points", "balance": {"int": 115}},
        "state": "ACTIVE",
        "textModulesData": [{"id": "tier", "header": "Tier", "body": "Gold"}],
    }
    assert_valid("LoyaltyObject", {"id": object_id, "classId": "x.y", **json.loads(body)})


async def test_google_answers_decide_retry_or_give_up(tenant: Tenant, settings: Settings) -> None:
    _, code = await offer(tenant)
    message = Message(
        project_id=tenant.project_id,
        channel=MessageChannel.GOOGLE_UPDATE,
        code=code.code,
        to=google.offer_object_id(issuer_id=ISSUER, code=code),
    )

    async def answer(status: str) -> str:
        http = HttpMockSequence([({"status": status}, '{"error": {"message": "no"}}')])
        return await google.send_google_update(
            settings=settings, message=message, project=tenant.project, http=http
        )

    # Never saved by anyone: nothing to update, settled with a note.
    assert await answer("404") == f"google:not-saved:{message.to}"
    for status in ("429", "500", "503"):
        with pytest.raises(TransientSendError):
            await answer(status)
    for status in ("400", "401", "403"):
        with pytest.raises(PermanentSendError):
            await answer(status)
    gone = message.model_copy(update={"code": "NOSUCHCODE"})
    with pytest.raises(PermanentSendError):
        await google.send_google_update(
            settings=settings, message=gone, project=tenant.project, http=HttpMockSequence([])
        )


# --- through the outbox worker, with a local server standing in for Google -----------------


class FakeGoogle:
    """OAuth token endpoint and walletobjects API on localhost, recording every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.patch_status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> bytes:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                fake.requests.append((self.command, self.path, headers, raw))
                return raw

            def do_POST(self) -> None:
                self._record()
                if self.path == "/token":
                    self._reply(200, {"access_token": "test-access", "expires_in": 3600})
                else:
                    self._reply(404, {})

            def do_PATCH(self) -> None:
                raw = self._record()
                self._reply(self.patch_status_value(), json.loads(raw or b"{}"))

            def patch_status_value(self) -> int:
                return fake.patch_status

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeGoogle":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


def configured(settings: Settings, fake: FakeGoogle, tmp_path: Path) -> Settings:
    """A service-account key file (as Google issues them) whose token endpoint is the fake."""
    info = dict(google.service_account(settings=settings).info)
    info["token_uri"] = f"{fake.url}/token"
    info["client_email"] = "wallet@engage-test.iam.gserviceaccount.com"
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(info))
    return settings.model_copy(
        update={"google_service_account_file": key_file, "google_api_url": f"{fake.url}/"}
    )


async def test_the_worker_patches_google_over_http(
    tenant: Tenant, settings: Settings, fake_google: FakeGoogle, tmp_path: Path
) -> None:
    real = configured(settings, fake_google, tmp_path)
    assert real.google_configured
    campaign, code = await offer(tenant, starts_at=None)
    await issue(real, tenant, code, campaign)
    await redeem(tenant, code)

    assert await OutboxWorker(real, concurrency=1).run_until_idle() == 1

    [update] = await google_updates(tenant.project_id)
    assert (update.status, update.sink) == (MessageStatus.SENT, False)
    assert update.provider_id == f"google:{update.to}"
    token, patch = fake_google.requests
    assert (token[0], token[1]) == ("POST", "/token")
    method, path, headers, body = patch
    assert (method, path.split("?")[0]) == ("PATCH", f"/walletobjects/v1/offerObject/{update.to}")
    assert headers["authorization"] == "Bearer test-access"
    assert json.loads(body) == {"state": "COMPLETED"}


async def test_a_failing_google_is_retried_by_the_worker(
    tenant: Tenant, settings: Settings, fake_google: FakeGoogle, tmp_path: Path
) -> None:
    real = configured(settings, fake_google, tmp_path)
    fake_google.patch_status = 503
    campaign, code = await offer(tenant, starts_at=None)
    await issue(real, tenant, code, campaign)
    await redeem(tenant, code)

    # One attempt: the jittered backoff may make the retry due at once.
    assert await OutboxWorker(real, concurrency=1).run_one() == "retry"

    [update] = await google_updates(tenant.project_id)
    assert (update.status, update.open, update.attempts) == (MessageStatus.QUEUED, True, 1)
    assert "503" in update.error


async def test_sandbox_projects_and_unconfigured_services_sink_updates(
    tenant: Tenant, settings: Settings, fake_google: FakeGoogle, tmp_path: Path
) -> None:
    real = configured(settings, fake_google, tmp_path)
    sandbox, _ = await projects.create_project("sandbox shop", sandbox=True)
    box = Tenant(project=sandbox, admin_key="", gql=tenant.gql)
    campaign, code = await offer(box, starts_at=None)
    await issue(real, box, code, campaign)
    await redeem(box, code)
    assert await OutboxWorker(real, concurrency=1).run_until_idle() == 1
    # A live project, but the service has no key configured: sunk as well.
    live_campaign, live_code = await offer(tenant, "LIVE-1", starts_at=None)
    await issue(settings, tenant, live_code, live_campaign)
    await redeem(tenant, live_code)
    assert await OutboxWorker(settings, concurrency=1).run_until_idle() == 1

    assert fake_google.requests == []
    for project_id, wallet_code in ((sandbox.key, code), (tenant.project_id, live_code)):
        [update] = await google_updates(project_id)
        assert (update.status, update.sink) == (MessageStatus.SENT, True)
        [record] = sink.read_log(settings.sink_dir, project_id, "pushes.log")
        assert record["message_id"] == update.key
        assert record["object_id"] == google.offer_object_id(issuer_id=ISSUER, code=wallet_code)
        assert (record["method"], record["resource"]) == ("PATCH", "offerObject")
        assert record["body"] == {"state": "COMPLETED"}


async def test_a_class_left_out_of_a_link_is_inserted_once(
    tenant: Tenant, settings: Settings
) -> None:
    project = await branded(tenant)
    campaign, _ = await offer(tenant)
    klass = google.offer_class(issuer_id=ISSUER, campaign=campaign, project=project)
    http = HttpMockSequence([({"status": "200"}, "{}"), ({"status": "409"}, "{}")])

    assert google.insert_class(settings=settings, klass=klass, http=http) is True
    assert google.insert_class(settings=settings, klass=klass, http=http) is False

    for uri, method, body, _headers in http.request_sequence:
        assert (method, uri.split("?")[0]) == (
            "POST",
            "https://walletobjects.googleapis.com/walletobjects/v1/offerClass",
        )
        assert json.loads(body) == klass
    with pytest.raises(TransientSendError):
        google.insert_class(
            settings=settings, klass=klass, http=HttpMockSequence([({"status": "500"}, "{}")])
        )


def test_the_shipped_discovery_document_is_the_one_the_client_uses(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mongodb_uri="mongodb://unused")
    service = google.wallet_service(settings=settings, http=HttpMockSequence([]))
    request = service.offerobject().patch(resourceId=f"{ISSUER}.x", body={"state": "EXPIRED"})
    assert request.method == "PATCH"
    assert request.uri.startswith(
        f"https://walletobjects.googleapis.com/walletobjects/v1/offerObject/{ISSUER}.x"
    )

"""The REST checkout API over HTTP: every route with the roles that may call it, idempotent
redemption, refusals as problem+json that write nothing, and the guessing limits' 429."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.rest.routes import document
from domain import projects
from domain.campaigns import Limits
from domain.common import utc_now
from domain.customers import Customer, issue_customer_token
from domain.orders import Order
from domain.redemptions import Redemption
from tests.api.rest.test_openapi import conforms
from tests.factories import (
    Tenant,
    make_code,
    make_coupon,
    make_customer,
    make_loyalty_program,
    make_pos_key,
)

PROBLEM_JSON = "application/problem+json"
ORDER = {"id": "till-1", "amount": {"amount": 5000, "currency": "EUR"}}


@dataclass
class Rest:
    """Sends requests under /v1 with one bearer token."""

    http: httpx.AsyncClient
    token: str | None

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    async def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(f"/v1{path}", json=body, headers=self._headers(headers))

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.http.put(f"/v1{path}", json=body, headers=self._headers(None))

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(f"/v1{path}", headers=self._headers(None))


@dataclass
class Shop:
    admin: Rest
    till: Rest
    tenant: Tenant
    shopper: Customer


@pytest.fixture
async def shop(http: httpx.AsyncClient, tenant: Tenant) -> Shop:
    """A single-use 15% code, SPRING-AB12, published to a shopper known to the shop as s-1."""
    shopper = await make_customer(
        project_id=tenant.project_id, source_id="s-1", name="Ada", email="ada@example.com"
    )
    campaign, _ = await make_coupon(
        project_id=tenant.project_id, display="OTHER-CODE", limits=Limits(per_code=1)
    )
    await make_code(
        campaign=campaign, display="SPRING-AB12", customer_id=shopper.key, published_at=utc_now()
    )
    return Shop(
        admin=Rest(http, tenant.admin_key),
        till=Rest(http, await make_pos_key(tenant=tenant)),
        tenant=tenant,
        shopper=shopper,
    )


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 body of a refusal, checked for its status, media type and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:engage:problem:{code}"
    assert body["title"] and body["detail"]
    assert body["errors"][0]["code"] == code
    conforms(document(), "Problem", body)
    return dict(body)


async def test_validate_gives_the_discount_and_every_reason(shop: Shop) -> None:
    valid = await shop.till.post(
        "/codes/validate", {"code": "spring ab12", "customerSourceId": "s-1", "order": ORDER}
    )
    assert valid.status_code == 200, valid.text
    assert valid.json() == {
        "valid": True,
        "reasons": [],
        "discount": {"amount": 750, "currency": "EUR"},
        "amountToPay": {"amount": 4250, "currency": "EUR"},
    }
    unknown = await shop.till.post("/codes/validate", {"code": "NOPE-1234", "order": ORDER})
    assert unknown.json()["reasons"] == ["NOT_FOUND"]
    nobody = {"code": "SPRING-AB12", "customerSourceId": "s-404", "order": ORDER}
    assert (await shop.till.post("/codes/validate", nobody)).json() == {
        "valid": False,
        "reasons": ["CUSTOMER_NOT_FOUND"],
        "discount": None,
        "amountToPay": None,
    }


async def test_redeem_once_per_idempotency_key_then_roll_back(shop: Shop) -> None:
    attempt = {"code": "SPRING-AB12", "customerSourceId": "s-1", "order": ORDER}
    key = {"Idempotency-Key": "till-1-sale-7"}
    first = await shop.till.post("/redemptions", attempt, key)
    assert first.status_code == 201, first.text
    redemption = first.json()
    conforms(document(), "Redemption", redemption)
    assert redemption["status"] == "SUCCEEDED"
    assert redemption["channel"] == "POS"
    assert redemption["customerId"] == shop.shopper.key
    assert redemption["discount"] == {"amount": 750, "currency": "EUR"}
    # What a till may read of the customer: the id, never the email or name.
    assert "email" not in first.text and "Ada" not in first.text

    retry = await shop.till.post("/redemptions", attempt, key)
    assert retry.status_code == 201
    assert retry.json() == redemption
    assert await Redemption.find({"project_id": shop.tenant.project_id}).count() == 1

    unknown = await shop.till.post("/redemptions", {**attempt, "code": "NOPE-1234"})
    assert problem(unknown, 404, "NOT_FOUND")["field"] == "code"
    used_up = problem(await shop.till.post("/redemptions", attempt), 409, "CODE_LIMIT_REACHED")
    assert used_up["field"] == "code"

    rollback = await shop.till.post(f"/redemptions/{redemption['id']}/rollback", {"reason": "void"})
    assert rollback.status_code == 200, rollback.text
    assert rollback.json()["status"] == "ROLLED_BACK"
    assert rollback.json()["rollbackReason"] == "void"
    again = await shop.till.post(f"/redemptions/{redemption['id']}/rollback")
    problem(again, 409, "ALREADY_ROLLED_BACK")
    problem(
        await shop.till.post("/redemptions/0123456789abcdef01234567/rollback"), 404, "NOT_FOUND"
    )
    # The rollback gave the use back: the code redeems again.
    assert (await shop.till.post("/redemptions", attempt)).status_code == 201


async def test_record_an_order_once_per_id(shop: Shop) -> None:
    order = {
        "id": "web-9",
        "customerSourceId": "s-1",
        "items": [{"sku": "tea", "quantity": 2, "price": {"amount": 1250, "currency": "EUR"}}],
        "codes": ["spring-ab12"],
    }
    first = await shop.admin.post("/orders", order)
    assert first.status_code == 201, first.text
    conforms(document(), "RecordedOrder", first.json())
    assert first.json()["amount"] == {"amount": 2500, "currency": "EUR"}
    assert first.json()["customerId"] == shop.shopper.key
    assert first.json()["codes"] == ["SPRINGAB12"]
    again = await shop.admin.post("/orders", order)
    assert again.status_code == 200
    assert again.json() == first.json()
    problem(
        await shop.admin.post("/orders", {**order, "customerSourceId": "s-404"}), 404, "NOT_FOUND"
    )


async def test_upsert_a_customer_by_source_id(shop: Shop) -> None:
    created = await shop.admin.put(
        "/customers/crm-7", {"email": "Bo@Example.com", "name": "Bo", "consents": {"email": True}}
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["sourceId"] == "crm-7"
    assert customer["email"] == "bo@example.com"
    assert customer["consents"] == {"email": True, "sms": False}
    updated = await shop.admin.put("/customers/crm-7", {"tags": ["vip"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == customer["id"]
    assert updated.json()["name"] == "Bo"
    assert updated.json()["tags"] == ["vip"]
    assert await Customer.find({"source_id": "crm-7"}).count() == 1


async def test_coupons_and_loyalty_for_admin_and_the_customer_alone(shop: Shop) -> None:
    program = await make_loyalty_program(project_id=shop.tenant.project_id)
    own = Rest(
        shop.admin.http, await issue_customer_token(shop.tenant.project_id, shop.shopper.key)
    )
    for reader in (shop.admin, own):
        coupons = await reader.get("/customers/s-1/coupons")
        assert coupons.status_code == 200, coupons.text
        conforms(document(), "CustomerCoupons", coupons.json())
        [coupon] = coupons.json()["coupons"]
        assert coupon["code"] == "SPRINGAB12"
        assert coupon["status"] == "ACTIVE"
        assert coupon["offer"] == "15% off"
        assert coupon["usesLeft"] == 1
        assert coupon["url"] == "http://testserver/c/SPRINGAB12"
        loyalty = await reader.get("/customers/s-1/loyalty")
        assert loyalty.status_code == 200, loyalty.text
        conforms(document(), "LoyaltyBalance", loyalty.json())
        assert loyalty.json() == {
            "customerId": shop.shopper.key,
            "cards": [{"campaignId": program.key, "points": 0, "earnedTotal": 0, "tier": ""}],
        }
    other = await make_customer(project_id=shop.tenant.project_id, source_id="s-2")
    other_token = Rest(
        shop.admin.http, await issue_customer_token(shop.tenant.project_id, other.key)
    )
    for path in ("/customers/s-1/coupons", "/customers/s-1/loyalty", "/customers/s-404/coupons"):
        problem(await other_token.get(path), 403, "FORBIDDEN")
    problem(await shop.admin.get("/customers/s-404/loyalty"), 404, "NOT_FOUND")


async def test_roles_as_in_graphql(shop: Shop, other_tenant: Tenant) -> None:
    """POS keys validate, redeem and roll back; orders and customers are for admin keys; a till
    reads nothing of a customer's personal data. Refused calls write nothing."""
    forbidden = [
        await shop.till.post("/orders", {"id": "pos-1"}),
        await shop.till.put("/customers/s-1", {"name": "Eve"}),
        await shop.till.get("/customers/s-1/coupons"),
        await shop.till.get("/customers/s-1/loyalty"),
    ]
    token = await issue_customer_token(shop.tenant.project_id, shop.shopper.key)
    customer = Rest(shop.admin.http, token)
    forbidden.append(await customer.post("/redemptions", {"code": "SPRING-AB12"}))
    forbidden.append(await customer.post("/codes/validate", {"code": "SPRING-AB12"}))
    for response in forbidden:
        problem(response, 403, "FORBIDDEN")
    anonymous = await Rest(shop.admin.http, None).post("/codes/validate", {"code": "X"})
    problem(anonymous, 401, "UNAUTHENTICATED")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    problem(
        await Rest(shop.admin.http, "ek_wrong").get("/customers/s-1/coupons"),
        401,
        "UNAUTHENTICATED",
    )
    # Another project's key does not see this one's customers.
    problem(
        await Rest(shop.admin.http, other_tenant.admin_key).get("/customers/s-1/coupons"),
        404,
        "NOT_FOUND",
    )
    assert await Order.find_all().count() == 0
    assert (await Customer.find_one({"source_id": "s-1"})).name == "Ada"  # type: ignore[union-attr]


async def test_bad_input_is_a_typed_problem_that_writes_nothing(shop: Shop) -> None:
    admin = shop.admin
    not_json = await admin.http.post(
        "/v1/orders",
        content=b"{",
        headers={"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"},
    )
    problem(not_json, 400, "BAD_REQUEST")
    problem(await admin.post("/orders", [1]), 400, "BAD_REQUEST")
    bearer = {"Authorization": f"Bearer {admin.token}"}
    as_text = await admin.http.post(
        "/v1/orders", content=b"id=o-1", headers={**bearer, "Content-Type": "text/plain"}
    )
    problem(as_text, 415, "UNSUPPORTED_MEDIA_TYPE")
    huge_body = {"id": "o-1", "codes": ["X" * 1000] * 600}
    problem(await admin.post("/orders", huge_body), 413, "REQUEST_TOO_LARGE")
    missing = problem(await admin.post("/orders", {"amount": {"amount": 1}}), 422, "REQUIRED")
    assert {(e["code"], e["field"]) for e in missing["errors"]} == {
        ("REQUIRED", "id"),
        ("REQUIRED", "amount.currency"),
    }
    typo = problem(await admin.post("/orders", {"id": "o-1", "cutsomerId": "x"}), 422, "INVALID")
    assert typo["field"] == "cutsomerId"
    text_amount = {"id": "o-1", "amount": {"amount": "5000", "currency": "EUR"}}
    assert problem(await admin.post("/orders", text_amount), 422, "INVALID")["field"] == (
        "amount.amount"
    )
    negative = {"id": "o-1", "items": [{"sku": "t", "quantity": 0, "price": ORDER["amount"]}]}
    assert problem(await admin.post("/orders", negative), 422, "INVALID")["field"] == (
        "items[0].quantity"
    )
    control = await admin.put("/customers/s-9", {"name": "Bo\x00b"})
    assert problem(control, 422, "INVALID_CHARACTERS")["field"] == "name"
    assert (
        problem(await admin.put("/customers/s-9", {"email": "bo@"}), 422, "INVALID_EMAIL")["field"]
        == "email"
    )
    huge = {"attributes": {"n": 2**64}}
    assert problem(await admin.put("/customers/s-9", huge), 422, "INVALID_VALUE")["field"] == (
        "attributes.n"
    )
    redeem = {
        "code": "SPRING-AB12",
        "customerSourceId": "s-1",
        "order": {"amount": {"amount": 1, "currency": "euro"}},
    }
    problem(await shop.till.post("/redemptions", redeem), 422, "INVALID_CURRENCY")
    too_long = {"Idempotency-Key": "k" * 201}
    problem(
        await shop.till.post(
            "/redemptions", {"code": "SPRING-AB12", "customerSourceId": "s-1"}, too_long
        ),
        422,
        "INVALID",
    )
    assert await Order.find_all().count() == 0
    assert await Customer.find({"project_id": shop.tenant.project_id}).count() == 1
    assert await Redemption.find_all().count() == 0


@pytest.fixture
async def strict_app(app: Starlette) -> AsyncIterator[Starlette]:
    """The app with a key's code attempts limited to 25 a day: five unknown codes fill it."""
    app.state.settings = app.state.settings.model_copy(
        update={"rate_limit_code_attempts_per_key": "25/day"}
    )
    yield app


async def test_guessing_codes_locks_the_key_out_with_retry_after(
    strict_app: Starlette, shop: Shop
) -> None:
    for attempt in range(5):
        guess = await shop.till.post("/codes/validate", {"code": f"GUESS-{attempt}"})
        assert guess.json()["reasons"] == ["NOT_FOUND"]
    for refused in (
        await shop.till.post("/codes/validate", {"code": "SPRING-AB12"}),
        await shop.till.post("/redemptions", {"code": "SPRING-AB12", "customerSourceId": "s-1"}),
    ):
        body = problem(refused, 429, "RATE_LIMITED")
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 86400
        assert body["retryAfter"] == retry_after
    assert await Redemption.find_all().count() == 0
    # Another key of the project is counted on its own.
    other = Rest(
        shop.till.http,
        (await projects.create_api_key(shop.tenant.project_id, projects.Role.POS)).secret,
    )
    assert (
        await other.post("/codes/validate", {"code": "SPRING-AB12", "customerSourceId": "s-1"})
    ).json()["valid"]


async def test_concurrent_retries_redeem_once_and_concurrent_upserts_make_one_customer(
    shop: Shop,
) -> None:
    attempt = {"code": "SPRING-AB12", "customerSourceId": "s-1", "order": ORDER}
    key = {"Idempotency-Key": "till-1-sale-8"}
    answers = await asyncio.gather(
        *(shop.till.post("/redemptions", attempt, key) for _ in range(5))
    )
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await Redemption.find({"project_id": shop.tenant.project_id}).count() == 1

    upserts = await asyncio.gather(
        *(shop.admin.put("/customers/crm-9", {"name": f"Bo {n}"}) for n in range(4))
    )
    assert sorted(answer.status_code for answer in upserts) == [200, 200, 200, 201]
    assert len({answer.json()["id"] for answer in upserts}) == 1
    assert await Customer.find({"source_id": "crm-9"}).count() == 1

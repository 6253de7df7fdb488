"""A coupon's whole life: campaign, generated codes, a customer's code, the till, a refund."""

import asyncio
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.factories import Tenant

CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id status } errors { code field message } }
}"""
GENERATE = """
mutation ($campaignId: ID!, $count: Int!) {
  generateCodes(campaignId: $campaignId, count: $count) { job { id status } errors { code } }
}"""
JOB = "query ($id: ID!) { job(id: $id) { status progress total done errors } }"
CAMPAIGN = "query ($id: ID!) { campaign(id: $id) { codesCount redeemedCount } }"
CREATE_CUSTOMER = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } }
}"""
PUBLISH = """
mutation ($campaignId: ID!, $customerId: ID!) {
  publishCode(campaignId: $campaignId, customerId: $customerId) {
    code { code display url customer { id } } errors { code }
  }
}"""
CREATE_KEY = 'mutation { createApiKey(role: POS, name: "till 1") { secret errors { code } } }'
VALIDATE = """
query ($code: String!, $customerId: ID, $order: OrderInput) {
  validateCode(code: $code, customerId: $customerId, order: $order) {
    valid reasons discount { amount currency }
  }
}"""
REDEEM = """
mutation ($code: String!, $customerId: ID, $order: OrderInput, $key: String) {
  redeemCode(code: $code, customerId: $customerId, order: $order, idempotencyKey: $key) {
    redemption { id channel discount { amount currency } customer { id } }
    errors { code field }
  }
}"""
ROLLBACK = """
mutation ($id: ID!) { rollbackRedemption(id: $id, reason: "returned") {
  redemption { status } errors { code } } }"""
CODE = """
query ($code: String!) {
  code(code: $code) { status usesLeft redemptions { totalCount edges { node { status } } } }
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The service's own background runner makes the codes, as in production.
    return settings.model_copy(update={"run_jobs": True})


def order(amount: int) -> dict[str, Any]:
    return {"id": f"till-{amount}", "amount": {"amount": amount, "currency": "EUR"}}


async def wait_for_job(tenant: Tenant, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job = (await tenant.gql(JOB, {"id": job_id}))["job"]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return dict(job)
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def test_a_coupon_from_campaign_to_till_and_back(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    admin = tenant.gql
    campaign_input = {
        "name": "Welcome",
        "discount": {
            "type": "PERCENT",
            "percentOff": 15,
            "maxDiscount": {"amount": 1_000, "currency": "EUR"},
        },
        "timezone": "Europe/Paris",
        "limits": {"perCode": 1, "perCustomer": 1},
        "rules": {"minOrder": {"amount": 2_000, "currency": "EUR"}},
        "codes": {"pattern": "WELC-####-####"},
    }
    created = (await admin(CREATE_CAMPAIGN, {"input": campaign_input}))["createCampaign"]
    assert created["errors"] == [] and created["campaign"]["status"] == "ACTIVE"
    campaign_id = created["campaign"]["id"]

    # 1. Codes are made in the background and counted on the campaign.
    queued = (await admin(GENERATE, {"campaignId": campaign_id, "count": 300}))["generateCodes"]
    assert queued["errors"] == []
    job = await wait_for_job(tenant, queued["job"]["id"])
    assert job == {"status": "SUCCEEDED", "progress": 1.0, "total": 300, "done": 300, "errors": []}
    assert (await admin(CAMPAIGN, {"id": campaign_id}))["campaign"]["codesCount"] == 300

    # 2. A customer gets one of them, the same one when asking again.
    ada = await admin(CREATE_CUSTOMER, {"input": {"email": "ada@example.com"}})
    ada_id = ada["createCustomer"]["customer"]["id"]
    published = await admin(PUBLISH, {"campaignId": campaign_id, "customerId": ada_id})
    code = published["publishCode"]["code"]
    assert code["display"].startswith("WELC-") and code["customer"] == {"id": ada_id}
    again = await admin(PUBLISH, {"campaignId": campaign_id, "customerId": ada_id})
    assert again["publishCode"]["code"]["code"] == code["code"]
    assert code["url"] == f"http://testserver/c/{code['code']}"
    page = await http.get(f"/c/{code['display'].lower()}")
    assert page.status_code == 200
    assert "15% off" in page.text and "1 use left" in page.text

    # 3. At the till: a POS key checks the order, then redeems once, whatever the retries.
    till = admin.as_token((await admin(CREATE_KEY))["createApiKey"]["secret"])
    typed = code["display"].lower().replace("-", " ")
    small = await till(VALIDATE, {"code": typed, "customerId": ada_id, "order": order(1_500)})
    assert small["validateCode"] == {
        "valid": False,
        "reasons": ["MIN_ORDER_NOT_MET"],
        "discount": None,
    }
    big = await till(VALIDATE, {"code": typed, "customerId": ada_id, "order": order(8_000)})
    assert big["validateCode"]["discount"] == {"amount": 1_000, "currency": "EUR"}
    variables = {"code": typed, "customerId": ada_id, "order": order(8_000), "key": "till-1-42"}
    redeemed = await asyncio.gather(*(till(REDEEM, variables) for _ in range(5)))
    redemptions = {r["redeemCode"]["redemption"]["id"] for r in redeemed}
    assert len(redemptions) == 1
    first = redeemed[0]["redeemCode"]["redemption"]
    assert first["channel"] == "POS" and first["discount"]["amount"] == 1_000

    again_with_new_key = await till(REDEEM, {**variables, "key": "till-1-43"})
    assert {e["code"] for e in again_with_new_key["redeemCode"]["errors"]} >= {"CODE_LIMIT_REACHED"}
    used = (await till(CODE, {"code": typed}))["code"]
    assert (used["status"], used["usesLeft"]) == ("REDEEMED", 0)
    assert used["redemptions"]["totalCount"] == 1
    assert "Already used" in (await http.get(f"/c/{code['code']}")).text
    forbidden = (await till.raw(CREATE_CAMPAIGN, {"input": campaign_input})).json()
    assert forbidden["errors"][0]["extensions"] == {"code": "FORBIDDEN"}

    # 4. The order is returned: the redemption is rolled back once and the code is good again.
    rolled = (await admin(ROLLBACK, {"id": first["id"]}))["rollbackRedemption"]
    assert rolled == {"redemption": {"status": "ROLLED_BACK"}, "errors": []}
    twice = (await admin(ROLLBACK, {"id": first["id"]}))["rollbackRedemption"]
    assert [e["code"] for e in twice["errors"]] == ["ALREADY_ROLLED_BACK"]
    restored = (await till(CODE, {"code": typed}))["code"]
    assert (restored["status"], restored["usesLeft"]) == ("ACTIVE", 1)
    assert restored["redemptions"]["edges"] == [{"node": {"status": "ROLLED_BACK"}}]
    assert (await admin(CAMPAIGN, {"id": campaign_id}))["campaign"]["redeemedCount"] == 0

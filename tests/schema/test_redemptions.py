"""validateCode, redeemCode, rollbackRedemption and redemption queries over GraphQL."""

from typing import Any

from domain.campaigns import CampaignStatus, Discount, DiscountType, Limits, Rules
from domain.common import Money
from domain.customers import issue_customer_token
from domain.redemptions import Redemption
from tests.factories import Tenant, make_campaign, make_code, make_customer, make_pos_key

VALIDATE = """
query ($code: String!, $customerId: ID, $order: OrderInput) {
  validateCode(code: $code, customerId: $customerId, order: $order) {
    valid reasons discount { amount currency }
  }
}"""
REDEMPTION_FIELDS = """
id code codeId campaignId status channel createdAt rolledBackAt rollbackReason
discount { amount currency }
customer { id name }
order { id amount { amount currency } shipping { amount }
        items { sku quantity category price { amount currency } } }
"""
REDEEM = (
    """
mutation ($code: String!, $customerId: ID, $order: OrderInput, $key: String) {
  redeemCode(code: $code, customerId: $customerId, order: $order, idempotencyKey: $key) {
    redemption {"""
    + REDEMPTION_FIELDS
    + """}
    errors { code field message }
  }
}"""
)
ROLLBACK = """
mutation ($id: ID!, $reason: String) {
  rollbackRedemption(id: $id, reason: $reason) {
    redemption { id status rolledBackAt rollbackReason }
    errors { code field message }
  }
}"""
BY_ID = "query ($id: ID!) { redemption(id: $id) { id status code } }"
LIST = """
query ($first: Int, $after: String, $campaignId: ID, $customerId: ID, $code: String) {
  redemptions(first: $first, after: $after, campaignId: $campaignId, customerId: $customerId,
              code: $code) {
    edges { node { id code } cursor }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""
ORDER = {
    "id": "web-1001",
    "items": [
        {"sku": "TEE", "quantity": 2, "price": {"amount": 1_500, "currency": "EUR"}},
        {
            "sku": "CAP",
            "quantity": 1,
            "price": {"amount": 2_000, "currency": "eur"},
            "category": "hats",
        },
    ],
    "shipping": {"amount": 490, "currency": "EUR"},
}


async def setup_code(tenant: Tenant, **fields: Any) -> tuple[str, str]:
    """A 10% campaign with code SUMMER-20; returns (campaign id, code id)."""
    campaign = await make_campaign(project_id=tenant.project_id, **fields)
    code = await make_code(campaign=campaign)
    return campaign.key, str(code.id)


async def redeem(tenant: Tenant, **variables: Any) -> dict[str, Any]:
    variables.setdefault("code", "SUMMER-20")
    variables.setdefault("order", ORDER)
    return dict((await tenant.gql(REDEEM, variables))["redeemCode"])


async def test_redeem_returns_the_redemption_with_its_order_and_customer(tenant: Tenant) -> None:
    campaign_id, code_id = await setup_code(tenant)
    customer = await make_customer(project_id=tenant.project_id, name="Ada")

    payload = await redeem(tenant, code="summer 20", customerId=customer.key, key="web-1001")

    assert payload["errors"] == []
    redemption = payload["redemption"]
    assert redemption["code"] == "SUMMER20"
    assert (redemption["codeId"], redemption["campaignId"]) == (code_id, campaign_id)
    assert (redemption["status"], redemption["channel"]) == ("SUCCEEDED", "ONLINE")
    assert redemption["discount"] == {"amount": 500, "currency": "EUR"}
    assert redemption["customer"] == {"id": customer.key, "name": "Ada"}
    assert redemption["order"] == {
        "id": "web-1001",
        "amount": {"amount": 5_000, "currency": "EUR"},
        "shipping": {"amount": 490},
        "items": [
            {
                "sku": "TEE",
                "quantity": 2,
                "category": "",
                "price": {"amount": 1_500, "currency": "EUR"},
            },
            {
                "sku": "CAP",
                "quantity": 1,
                "category": "hats",
                "price": {"amount": 2_000, "currency": "EUR"},
            },
        ],
    }
    assert redemption["rolledBackAt"] is None and redemption["rollbackReason"] is None
    found = (await tenant.gql(BY_ID, {"id": redemption["id"]}))["redemption"]
    assert found == {"id": redemption["id"], "status": "SUCCEEDED", "code": "SUMMER20"}


async def test_codes_are_matched_ignoring_case_spaces_and_dashes(tenant: Tenant) -> None:
    await setup_code(tenant)
    for typed in ("summer 20", "Summer-20", " SUMMER20 ", "s-u-m-m-e-r-2-0"):
        result = (await tenant.gql(VALIDATE, {"code": typed, "order": ORDER}))["validateCode"]
        assert result == {
            "valid": True,
            "reasons": [],
            "discount": {"amount": 500, "currency": "EUR"},
        }, typed


async def test_validate_lists_every_reason_and_writes_nothing(tenant: Tenant) -> None:
    await setup_code(
        tenant,
        status=CampaignStatus.PAUSED,
        limits=Limits(per_customer=1),
        rules=Rules(min_order=Money(amount=10_000, currency="EUR"), skus=["SHOE"]),
    )
    before = await Redemption.get_pymongo_collection().count_documents({})
    result = (await tenant.gql(VALIDATE, {"code": "SUMMER20", "order": ORDER}))["validateCode"]
    assert result["valid"] is False
    assert set(result["reasons"]) == {
        "PAUSED",
        "CUSTOMER_REQUIRED",
        "MIN_ORDER_NOT_MET",
        "NO_ELIGIBLE_ITEMS",
    }
    assert result["discount"] is None
    assert await Redemption.get_pymongo_collection().count_documents({}) == before


async def test_a_malformed_order_is_a_reason(tenant: Tenant) -> None:
    await setup_code(tenant)
    bad = {"items": [{"sku": "A", "quantity": 0, "price": {"amount": 5, "currency": "EURO"}}]}
    result = (await tenant.gql(VALIDATE, {"code": "SUMMER20", "order": bad}))["validateCode"]
    assert result == {"valid": False, "reasons": ["INVALID_CURRENCY"], "discount": None}
    payload = await redeem(tenant, order={"amount": {"amount": -5, "currency": "EUR"}})
    assert payload["redemption"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "order.amount")]


async def test_refusals_carry_their_reason_codes(tenant: Tenant) -> None:
    await setup_code(tenant, limits=Limits(per_code=1))
    assert (await redeem(tenant))["errors"] == []
    refused = await redeem(tenant)
    assert refused["redemption"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("CODE_LIMIT_REACHED", "code")]
    unknown = await redeem(tenant, code="NOPE")
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]


async def test_rollback_then_redeem_again_and_a_second_rollback_is_refused(tenant: Tenant) -> None:
    await setup_code(tenant, limits=Limits(per_code=1))
    first = (await redeem(tenant))["redemption"]

    rolled = (await tenant.gql(ROLLBACK, {"id": first["id"], "reason": "returned"}))[
        "rollbackRedemption"
    ]
    assert rolled["errors"] == []
    assert rolled["redemption"]["status"] == "ROLLED_BACK"
    assert rolled["redemption"]["rollbackReason"] == "returned"
    assert rolled["redemption"]["rolledBackAt"] is not None

    again = await tenant.gql(ROLLBACK, {"id": first["id"]})
    assert [e["code"] for e in again["rollbackRedemption"]["errors"]] == ["ALREADY_ROLLED_BACK"]
    assert (await redeem(tenant))["errors"] == []
    assert [e["code"] for e in (await redeem(tenant))["errors"]] == ["CODE_LIMIT_REACHED"]


async def test_pos_keys_redeem_on_the_pos_channel(tenant: Tenant) -> None:
    await setup_code(tenant)
    till = tenant.gql.as_token(await make_pos_key(tenant=tenant))
    at_till = (await till(REDEEM, {"code": "SUMMER20", "order": ORDER}))["redeemCode"]
    assert at_till["redemption"]["channel"] == "POS"
    online = await redeem(tenant)
    assert online["redemption"]["channel"] == "ONLINE"
    # A till key may validate, read one redemption and roll back, but not list.
    assert (await till(VALIDATE, {"code": "SUMMER20"}))["validateCode"]["valid"] is True
    assert (await till(BY_ID, {"id": online["redemption"]["id"]}))["redemption"] is not None
    rolled = await till(ROLLBACK, {"id": at_till["redemption"]["id"]})
    assert rolled["rollbackRedemption"]["errors"] == []
    listed = (await till.raw(LIST, {})).json()
    assert listed["errors"][0]["message"] == "this operation is not allowed for the caller's role"


async def test_customer_tokens_cannot_redeem(tenant: Tenant) -> None:
    await setup_code(tenant)
    customer = await make_customer(project_id=tenant.project_id)
    token = await issue_customer_token(tenant.project_id, customer.key)
    response = await tenant.gql.as_token(token).raw(REDEEM, {"code": "SUMMER20"})
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert await Redemption.get_pymongo_collection().count_documents({}) == 0


async def test_another_project_cannot_see_or_touch_the_code(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await setup_code(tenant)
    redemption = (await redeem(tenant))["redemption"]

    validation = (await other_tenant.gql(VALIDATE, {"code": "SUMMER20", "order": ORDER}))[
        "validateCode"
    ]
    assert validation == {"valid": False, "reasons": ["NOT_FOUND"], "discount": None}
    assert [e["code"] for e in (await redeem(other_tenant))["errors"]] == ["NOT_FOUND"]
    rollback = (await other_tenant.gql(ROLLBACK, {"id": redemption["id"]}))["rollbackRedemption"]
    assert [e["code"] for e in rollback["errors"]] == ["NOT_FOUND"]
    assert (await other_tenant.gql(BY_ID, {"id": redemption["id"]}))["redemption"] is None
    assert (await other_tenant.gql(LIST, {}))["redemptions"]["totalCount"] == 0
    assert (await tenant.gql(BY_ID, {"id": redemption["id"]}))["redemption"]["status"] == (
        "SUCCEEDED"
    )


async def test_redemptions_are_listed_by_campaign_customer_and_code(tenant: Tenant) -> None:
    campaign_id, _ = await setup_code(tenant)
    other = await make_campaign(
        project_id=tenant.project_id, discount=Discount(type=DiscountType.FREE_SHIPPING)
    )
    await make_code(campaign=other, display="SHIP-FREE")
    ada = await make_customer(project_id=tenant.project_id)
    made = [
        (await redeem(tenant, customerId=ada.key))["redemption"]["id"],
        (await redeem(tenant))["redemption"]["id"],
        (await redeem(tenant, code="shipfree", customerId=ada.key))["redemption"]["id"],
    ]

    everything = (await tenant.gql(LIST, {"first": 2}))["redemptions"]
    assert [e["node"]["id"] for e in everything["edges"]] == made[:2]
    assert everything["pageInfo"]["hasNextPage"] is True
    assert everything["totalCount"] == 3
    rest = (await tenant.gql(LIST, {"after": everything["pageInfo"]["endCursor"]}))["redemptions"]
    assert [e["node"]["id"] for e in rest["edges"]] == made[2:]

    def ids(data: dict[str, Any]) -> list[str]:
        return [e["node"]["id"] for e in data["redemptions"]["edges"]]

    assert ids(await tenant.gql(LIST, {"campaignId": campaign_id})) == made[:2]
    assert ids(await tenant.gql(LIST, {"customerId": ada.key})) == [made[0], made[2]]
    assert ids(await tenant.gql(LIST, {"code": "ship-free"})) == [made[2]]


async def test_a_code_shows_its_redemptions_and_uses_left(tenant: Tenant) -> None:
    await setup_code(tenant, limits=Limits(per_code=3))
    await make_code(campaign=await make_campaign(project_id=tenant.project_id), display="OTHER-1")
    await redeem(tenant, code="OTHER-1")
    made = [(await redeem(tenant))["redemption"]["id"] for _ in range(2)]
    await tenant.gql(ROLLBACK, {"id": made[0]})
    query = """
    query ($after: String) {
      code(code: "summer20") {
        usesLeft status
        redemptions(first: 1, after: $after) {
          edges { node { id status } } pageInfo { hasNextPage endCursor } totalCount
        }
      }
    }"""

    first = (await tenant.gql(query))["code"]
    assert (first["usesLeft"], first["status"]) == (2, "ACTIVE")
    page = first["redemptions"]
    assert page["edges"] == [{"node": {"id": made[0], "status": "ROLLED_BACK"}}]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (2, True)
    after = {"after": page["pageInfo"]["endCursor"]}
    rest = (await tenant.gql(query, after))["code"]["redemptions"]
    assert rest["edges"] == [{"node": {"id": made[1], "status": "SUCCEEDED"}}]
    assert rest["pageInfo"]["hasNextPage"] is False

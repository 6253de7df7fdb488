"""recordOrder, updateOrderStatus and order over GraphQL."""

from typing import Any

from domain.customers import issue_customer_token
from domain.projects import Role, create_api_key
from tests.factories import Tenant, make_customer

ORDER_FIELDS = """
id status createdAt codes amount { amount currency }
items { sku quantity category price { amount currency } }
customer { id orderMetrics { ordersCount totalSpent firstOrderAt lastOrderAt } }
"""
RECORD = (
    """
mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    created
    order {"""
    + ORDER_FIELDS
    + """}
    errors { code field message }
  }
}"""
)
UPDATE_STATUS = (
    """
mutation ($id: String!, $status: OrderStatus!) {
  updateOrderStatus(id: $id, status: $status) {
    order {"""
    + ORDER_FIELDS
    + """}
    errors { code field message }
  }
}"""
)
BY_ID = "query ($id: String!) { order(id: $id) { id status amount { amount } } }"
CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id releaseLimitsOnRefund } errors { code } }
}"""


def shop_order(customer_id: str | None = None, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "web-1001",
        "customerId": customer_id,
        "items": [
            {"sku": "TEE", "quantity": 2, "price": {"amount": 1_500, "currency": "EUR"}},
            {"sku": "CAP", "quantity": 1, "price": {"amount": 2_000, "currency": "EUR"}},
        ],
        "codes": ["summer-20"],
    }
    values.update(fields)
    return values


async def record(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return dict((await tenant.gql(RECORD, {"input": shop_order(**fields)}))["recordOrder"])


async def test_record_order_returns_the_order_and_moves_metrics(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id, name="Ada")

    first = await record(tenant, customer_id=customer.key)
    again = await record(tenant, customer_id=customer.key, amount={"amount": 1, "currency": "EUR"})

    assert first["errors"] == [] and first["created"] is True
    order = first["order"]
    assert order["id"] == "web-1001" and order["status"] == "PAID"
    assert order["amount"] == {"amount": 5_000, "currency": "EUR"}
    assert [item["sku"] for item in order["items"]] == ["TEE", "CAP"]
    assert order["codes"] == ["SUMMER20"]
    metrics = again["order"]["customer"]["orderMetrics"]
    assert (metrics["ordersCount"], metrics["totalSpent"]) == (1, 5_000)
    assert metrics["firstOrderAt"] == metrics["lastOrderAt"] is not None
    assert again["created"] is False and again["order"]["amount"]["amount"] == 5_000


async def test_cancel_then_cancel_again_is_refused(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    await record(tenant, customer_id=customer.key)

    variables = {"id": "web-1001", "status": "CANCELLED"}
    cancelled = (await tenant.gql(UPDATE_STATUS, variables))["updateOrderStatus"]
    again = (await tenant.gql(UPDATE_STATUS, variables))["updateOrderStatus"]

    assert cancelled["errors"] == [] and cancelled["order"]["status"] == "CANCELLED"
    assert cancelled["order"]["customer"]["orderMetrics"]["ordersCount"] == 0
    assert again["order"] is None
    assert again["errors"] == [
        {
            "code": "ORDER_ALREADY_CANCELLED",
            "field": "id",
            "message": "this order is already cancelled",
        }
    ]


async def test_invalid_input_comes_back_as_errors(tenant: Tenant) -> None:
    payload = await record(
        tenant,
        customerId="nope",
        amount={"amount": -1, "currency": "EUR"},
        items=[],
    )
    currency = await record(tenant, amount={"amount": 100, "currency": "euro"}, items=[])

    assert payload["order"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {("INVALID", "amount")}
    assert currency["errors"][0]["code"] == "INVALID_CURRENCY"
    assert (await tenant.gql(BY_ID, {"id": "web-1001"}))["order"] is None


async def test_an_unknown_customer_is_refused(tenant: Tenant) -> None:
    payload = await record(tenant, customer_id="65a000000000000000000000")

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "customerId")]


async def test_another_projects_order_is_not_visible(tenant: Tenant, other_tenant: Tenant) -> None:
    await record(tenant)

    mine = (await tenant.gql(BY_ID, {"id": "web-1001"}))["order"]
    theirs = (await other_tenant.gql(BY_ID, {"id": "web-1001"}))["order"]
    cancel = (await other_tenant.gql(UPDATE_STATUS, {"id": "web-1001", "status": "REFUNDED"}))[
        "updateOrderStatus"
    ]

    assert mine["status"] == "PAID" and theirs is None
    assert cancel["errors"][0]["code"] == "NOT_FOUND"
    assert (await tenant.gql(BY_ID, {"id": "web-1001"}))["order"]["status"] == "PAID"


async def test_pos_keys_and_customers_may_not_touch_orders(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    till = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS, "till")).secret)
    token = await issue_customer_token(tenant.project_id, customer.key)
    app_user = tenant.gql.as_token(token)

    for caller in (till, app_user):
        for query, variables in (
            (RECORD, {"input": shop_order()}),
            (UPDATE_STATUS, {"id": "web-1001", "status": "CANCELLED"}),
            (BY_ID, {"id": "web-1001"}),
        ):
            body = (await caller.raw(query, variables)).json()
            assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert (await tenant.gql(BY_ID, {"id": "web-1001"}))["order"] is None


async def test_campaigns_take_release_limits_on_refund(tenant: Tenant) -> None:
    made = await tenant.gql(
        CREATE_CAMPAIGN,
        {
            "input": {
                "name": "Refundable",
                "discount": {"type": "PERCENT", "percentOff": 10},
                "releaseLimitsOnRefund": True,
            }
        },
    )

    assert made["createCampaign"]["campaign"]["releaseLimitsOnRefund"] is True

"""Codes over GraphQL: `code(code:)` lookup and roles, `publishCode` and its errors."""

from datetime import UTC, datetime

from domain.campaigns import Campaign, Discount, DiscountType, Limits
from domain.codes import Code, normalize_code, qr_svg
from domain.customers import Customer, issue_customer_token
from domain.projects import Role, create_api_key
from tests.factories import Tenant

CODE = """query ($code: String!) { code(code: $code) {
  id code display kind status usesLeft redeemedCount publishedAt lastRedeemedAt expiresAt
  url qrSvg campaign { id name } } }"""
CODE_WITH_CUSTOMER = "query ($code: String!) { code(code: $code) { code customer { id name } } }"
PUBLISH = """mutation ($campaignId: ID!, $customerId: ID!) {
  publishCode(campaignId: $campaignId, customerId: $customerId) {
    code { code display status customer { id } } errors { code field message } } }"""
ENDS_AT = datetime(2099, 1, 31, 23, 0, tzinfo=UTC)


async def make_code(
    tenant: Tenant,
    display: str = "SPRING-AB12",
    customer: Customer | None = None,
    **campaign: object,
) -> tuple[Campaign, Code]:
    values: dict[str, object] = {
        "name": "Spring sale",
        "discount": Discount(type=DiscountType.PERCENT, percent_off=15),
        "limits": Limits(per_code=3),
        "ends_at": ENDS_AT,
    }
    values.update(campaign)
    stored_campaign = Campaign(project_id=tenant.project_id, **values)
    await stored_campaign.insert()
    code = Code(
        project_id=tenant.project_id,
        code=normalize_code(display),
        display=display,
        campaign_id=stored_campaign.key,
        customer_id=customer.key if customer else "",
        assigned=customer is not None,
        pool="" if customer else stored_campaign.key,
        redeemed_count=1,
    )
    await code.insert()
    return stored_campaign, code


async def test_code_lookup_ignores_case_spaces_and_dashes(tenant: Tenant) -> None:
    campaign, code = await make_code(tenant)

    found = (await tenant.gql(CODE, {"code": " spring ab-12 "}))["code"]

    assert found["id"] == str(code.id)
    assert (found["code"], found["display"], found["kind"]) == (
        "SPRINGAB12",
        "SPRING-AB12",
        "UNIQUE",
    )
    assert (found["status"], found["usesLeft"], found["redeemedCount"]) == ("ACTIVE", 2, 1)
    assert found["campaign"] == {"id": campaign.key, "name": "Spring sale"}
    assert found["expiresAt"].startswith("2099-01-31T23:00:00")
    assert found["url"] == "http://testserver/c/SPRINGAB12"
    assert found["qrSvg"] == qr_svg("http://testserver/c/SPRINGAB12")
    assert found["publishedAt"] is None and found["lastRedeemedAt"] is None


async def test_code_status_reflects_limits_and_campaign(tenant: Tenant) -> None:
    await make_code(tenant, "USED", limits=Limits(per_code=1))
    await make_code(tenant, "PAUSED", status="PAUSED")
    await make_code(tenant, "OPEN", limits=Limits())
    statuses = {}
    for raw in ("used", "paused", "open"):
        found = (await tenant.gql(CODE, {"code": raw}))["code"]
        statuses[raw] = (found["status"], found["usesLeft"])
    assert statuses == {"used": ("REDEEMED", 0), "paused": ("PAUSED", 2), "open": ("ACTIVE", None)}


async def test_unknown_and_foreign_codes_are_null(tenant: Tenant, other_tenant: Tenant) -> None:
    await make_code(other_tenant, "THEIRS-1")
    assert (await tenant.gql(CODE, {"code": "THEIRS-1"}))["code"] is None
    assert (await tenant.gql(CODE, {"code": "never"}))["code"] is None
    assert (await tenant.gql(CODE, {"code": ""}))["code"] is None


async def test_pos_keys_may_look_codes_up_but_not_see_customers(tenant: Tenant) -> None:
    customer = Customer(project_id=tenant.project_id, name="Jane")
    await customer.insert()
    await make_code(tenant, "TILL-1", customer=customer)
    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)

    assert (await pos(CODE, {"code": "till1"}))["code"]["status"] == "ACTIVE"
    admin_view = (await tenant.gql(CODE_WITH_CUSTOMER, {"code": "till1"}))["code"]
    assert admin_view["customer"] == {"id": customer.key, "name": "Jane"}
    body = (await pos.raw(CODE_WITH_CUSTOMER, {"code": "till1"})).json()
    assert body["data"]["code"]["customer"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_customer_tokens_may_not_look_codes_up(tenant: Tenant) -> None:
    customer = Customer(project_id=tenant.project_id, name="Jane")
    await customer.insert()
    await make_code(tenant, "MINE-1", customer=customer)
    as_customer = tenant.gql.as_token(await issue_customer_token(tenant.project_id, customer.key))

    body = (await as_customer.raw(CODE, {"code": "MINE-1"})).json()

    assert body["data"] == {"code": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_publish_code_assigns_then_returns_the_same_code(tenant: Tenant) -> None:
    campaign, _ = await make_code(tenant, "POOL-0001")
    customer = Customer(project_id=tenant.project_id, name="Jane")
    await customer.insert()
    variables = {"campaignId": campaign.key, "customerId": customer.key}

    first = (await tenant.gql(PUBLISH, variables))["publishCode"]
    again = (await tenant.gql(PUBLISH, variables))["publishCode"]

    assert first["errors"] == [] and again == first
    assert first["code"] == {
        "code": "POOL0001",
        "display": "POOL-0001",
        "status": "ACTIVE",
        "customer": {"id": customer.key},
    }


async def test_publish_code_reports_errors(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign, _ = await make_code(tenant, "POOL-0002")
    ended, _ = await make_code(tenant, "POOL-0003", status="ENDED")
    customer = Customer(project_id=tenant.project_id)
    await customer.insert()
    foreign = Customer(project_id=other_tenant.project_id)
    await foreign.insert()

    async def errors(campaign_id: str, customer_id: str) -> list[dict]:
        variables = {"campaignId": campaign_id, "customerId": customer_id}
        payload = (await tenant.gql(PUBLISH, variables))["publishCode"]
        assert payload["code"] is None
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert await errors("0" * 24, customer.key) == [("NOT_FOUND", "campaignId")]
    assert await errors(campaign.key, foreign.key) == [("NOT_FOUND", "customerId")]
    assert await errors(ended.key, customer.key) == [("CAMPAIGN_ENDED", "campaignId")]


async def test_publish_code_is_for_admin_keys_only(tenant: Tenant) -> None:
    campaign, _ = await make_code(tenant, "POOL-0004")
    customer = Customer(project_id=tenant.project_id)
    await customer.insert()
    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)

    body = (await pos.raw(PUBLISH, {"campaignId": campaign.key, "customerId": customer.key})).json()

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Code.find({"project_id": tenant.project_id, "assigned": True}).count() == 0

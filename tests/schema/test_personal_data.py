"""Every path to personal data over HTTP, with each role: admin keys read it, POS keys see ids
only, a customer token sees only its own customer, another project's key sees nothing."""

from dataclasses import dataclass
from typing import Any

import httpx

from domain.customers import Customer, issue_customer_token
from domain.projects import Role, create_api_key
from tests.factories import GraphQLClient, Tenant, make_campaign, make_code, make_customer
from tests.schema.test_automation import cart_input
from tests.schema.test_loyalty import create_program as loyalty_program
from tests.schema.test_referrals import create_program, link_of

PERSONAL = "id email phone name attributes consents { email sms } orderMetrics { ordersCount }"
REDEMPTION = f"""
query ($id: ID!) {{
  redemption(id: $id) {{ id status customerId customer {{ {PERSONAL} }} }}
}}"""
REDEMPTION_IDS = "query ($id: ID!) { redemption(id: $id) { customerId customer { id } } }"
REDEEM = f"""
mutation ($code: String!, $customerId: ID, $key: String) {{
  redeemCode(code: $code, customerId: $customerId, idempotencyKey: $key) {{
    redemption {{ id status customerId customer {{ {PERSONAL} }} }}
    errors {{ code field message }}
  }}
}}"""
CODE = f"""
query ($code: String!) {{
  code(code: $code) {{
    code status customer {{ {PERSONAL} }}
    redemptions {{ totalCount edges {{ node {{ id customerId customer {{ {PERSONAL} }} }} }} }}
  }}
}}"""
APPLY = f"""
mutation ($code: String!, $customerId: ID!) {{
  applyReferralCode(code: $code, customerId: $customerId) {{
    referral {{ id status referrer {{ {PERSONAL} }} referee {{ {PERSONAL} }} }}
    errors {{ code field message }}
  }}
}}"""
REFERRALS = f"""
query ($campaignId: ID!) {{
  referrals(campaignId: $campaignId) {{
    edges {{ node {{ id referrer {{ {PERSONAL} }} referee {{ {PERSONAL} }} }} }}
  }}
}}"""
ME = f"""
{{ me {{ customer {{ {PERSONAL} }} coupons {{ code customer {{ {PERSONAL} }} }} }} }}"""
CUSTOMER = f"query ($id: ID!) {{ customer(id: $id) {{ {PERSONAL} }} }}"
CUSTOMERS = f"{{ customers {{ edges {{ node {{ {PERSONAL} }} }} }} }}"
SEND = f"""
mutation ($customerId: ID!) {{
  sendMessage(customerId: $customerId, channel: EMAIL, templateId: "builtin:points") {{
    message {{ id to renderedSubject renderedBody renderedHtml error customer {{ {PERSONAL} }} }}
    errors {{ code field message }}
  }}
}}"""
MESSAGES = f"""
query ($customerId: ID) {{
  messages(customerId: $customerId) {{
    totalCount edges {{ node {{ to renderedBody renderedHtml customer {{ {PERSONAL} }} }} }}
  }}
}}"""
RECORD_ORDER = f"""
mutation ($customerId: ID!) {{
  recordOrder(input: {{id: "o-1", customerId: $customerId,
                       amount: {{amount: 4200, currency: "EUR"}}}}) {{
    order {{ id customer {{ {PERSONAL} }} }} errors {{ code }}
  }}
}}"""
TRACK = """
mutation ($customerId: ID!) {
  trackEvent(customerId: $customerId, name: "wishlist.added",
             properties: {note: "gift for Bob Marrowby"}) {
    event { customerId properties } errors { code }
  }
}"""
EVENTS = """
query ($customerId: ID!) {
  customerEvents(customerId: $customerId) { edges { node { customerId properties } } }
}"""
PREVIEW = """
query ($customerId: ID!) {
  previewTemplate(templateId: "builtin:points", customerId: $customerId) {
    subject text html errors { code }
  }
}"""
SEGMENT = f"""
mutation ($filter: JSON!) {{
  createSegment(input: {{name: "Bob", kind: DYNAMIC, filter: $filter}}) {{
    segment {{ sample {{ {PERSONAL} }} }} errors {{ code field message }}
  }}
}}"""
CREATE_AUTOMATION = """
mutation ($input: AutomationInput!) {
  createAutomation(input: $input) { automation { id } errors { code field } }
}"""
ABANDON = """
mutation ($customerId: ID!) {
  trackEvent(customerId: $customerId, name: "cart.abandoned", properties: {total: 4200}) {
    errors { code }
  }
}"""
SCHEDULED = f"""
query ($id: ID!) {{
  automation(id: $id) {{
    scheduledActions {{ edges {{ node {{ status customer {{ {PERSONAL} }} }} }} }}
  }}
}}"""
CARD = """
query ($customerId: ID!, $campaignId: ID!) {
  loyaltyCard(customerId: $customerId, campaignId: $campaignId) { customerId points }
}"""
MY_CARDS = "{ me { loyaltyCards { customerId } } }"


@dataclass
class People:
    """A referrer and a customer who holds a code, with their keys and a redemption."""

    tenant: Tenant
    ada: Customer
    bob: Customer
    pos: GraphQLClient
    ada_token: GraphQLClient
    bob_token: GraphQLClient
    code: str
    redemption_id: str

    def leaks(self, response: httpx.Response, *people: Customer) -> list[str]:
        """The personal values of `people` that appear anywhere in the response."""
        return [
            value
            for person in people
            for value in (person.email, person.phone, person.name, person.attributes["city"])
            if value and value in response.text
        ]


async def people(tenant: Tenant) -> People:
    ada = await make_customer(
        project_id=tenant.project_id,
        name="Ada Quillfeather",
        email="ada.quill@example.com",
        phone="+33611111111",
        attributes={"city": "Ploumanach"},
    )
    bob = await make_customer(
        project_id=tenant.project_id,
        name="Bob Marrowby",
        email="bob.marrow@example.com",
        phone="+33622222222",
        attributes={"city": "Kerlouan"},
    )
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_code(campaign=campaign, display="BOB-CODE-1", customer_id=bob.key)
    await make_code(campaign=campaign, display="BOB-CODE-2", customer_id=bob.key)
    redeemed = await tenant.gql(
        REDEEM.replace(f"customer {{ {PERSONAL} }}", ""),
        {"code": "BOB-CODE-1", "customerId": bob.key, "key": "web-1"},
    )
    assert redeemed["redeemCode"]["errors"] == []
    pos_key = (await create_api_key(tenant.project_id, Role.POS)).secret
    return People(
        tenant=tenant,
        ada=ada,
        bob=bob,
        pos=tenant.gql.as_token(pos_key),
        ada_token=tenant.gql.as_token(await issue_customer_token(tenant.project_id, ada.key)),
        bob_token=tenant.gql.as_token(await issue_customer_token(tenant.project_id, bob.key)),
        code="BOB-CODE-1",
        redemption_id=str(redeemed["redeemCode"]["redemption"]["id"]),
    )


def full(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.key,
        "email": customer.email,
        "phone": customer.phone,
        "name": customer.name,
        "attributes": customer.attributes,
        "consents": {"email": False, "sms": False},
        "orderMetrics": {"ordersCount": 0},
    }


def refusals(body: dict[str, Any]) -> set[str]:
    """The codes of the response's errors (FORBIDDEN for a refused field or operation)."""
    return {error["extensions"]["code"] for error in body.get("errors", [])}


def refused_paths(body: dict[str, Any]) -> set[tuple[str | int, ...]]:
    return {tuple(error["path"][:-1]) for error in body["errors"]}


async def test_a_redemption_shows_its_customer_to_admin_keys_and_only_the_id_to_the_till(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)
    variables = {"id": world.redemption_id}

    admin = (await tenant.gql(REDEMPTION, variables))["redemption"]
    assert admin["customerId"] == world.bob.key and admin["customer"] == full(world.bob)

    till = await world.pos.raw(REDEMPTION, variables)
    body = till.json()
    assert body["data"]["redemption"]["customerId"] == world.bob.key
    assert body["data"]["redemption"]["customer"] is None
    assert refusals(body) == {"FORBIDDEN"}
    assert refused_paths(body) == {("redemption", "customer")}
    assert world.leaks(till, world.bob) == []
    ids = await world.pos(REDEMPTION_IDS, variables)
    assert ids["redemption"] == {"customerId": world.bob.key, "customer": {"id": world.bob.key}}

    for caller in (world.bob_token, other_tenant.gql):
        response = await caller.raw(REDEMPTION, variables)
        assert world.leaks(response, world.bob) == []
    assert (await other_tenant.gql(REDEMPTION, variables))["redemption"] is None


async def test_the_till_redeems_and_sees_the_redeemer_id_but_no_personal_data(
    tenant: Tenant,
) -> None:
    world = await people(tenant)
    variables = {"code": "BOB-CODE-2", "customerId": world.bob.key, "key": "till-1"}

    response = await world.pos.raw(REDEEM, variables)

    body = response.json()
    redeemed = body["data"]["redeemCode"]
    assert redeemed["errors"] == []
    assert redeemed["redemption"]["status"] == "SUCCEEDED"
    assert redeemed["redemption"]["customerId"] == world.bob.key
    assert redeemed["redemption"]["customer"] is None
    assert refusals(body) == {"FORBIDDEN"}
    assert world.leaks(response, world.bob) == []
    stored = await tenant.gql(REDEMPTION, {"id": redeemed["redemption"]["id"]})
    assert stored["redemption"]["customer"] == full(world.bob)


async def test_a_code_lookup_gives_the_till_no_personal_data(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)
    variables = {"code": world.code}

    admin = (await tenant.gql(CODE, variables))["code"]
    assert admin["customer"] == full(world.bob)
    [node] = [edge["node"] for edge in admin["redemptions"]["edges"]]
    assert node["customerId"] == world.bob.key and node["customer"] == full(world.bob)

    till = await world.pos.raw(CODE, variables)
    body = till.json()
    code = body["data"]["code"]
    assert code["code"] == "BOBCODE1" and code["customer"] is None
    assert [edge["node"]["customerId"] for edge in code["redemptions"]["edges"]] == [world.bob.key]
    assert [edge["node"]["customer"] for edge in code["redemptions"]["edges"]] == [None]
    assert refusals(body) == {"FORBIDDEN"}
    assert world.leaks(till, world.bob) == []

    for caller in (world.bob_token, other_tenant.gql):
        response = await caller.raw(CODE, variables)
        assert world.leaks(response, world.bob) == []
    assert (await other_tenant.gql(CODE, variables))["code"] is None


async def test_a_referee_token_sees_itself_and_never_its_referrer(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)
    program = await create_program(tenant)
    ada_code = (await link_of(tenant, world.ada.key, program))["code"]

    response = await world.bob_token.raw(APPLY, {"code": ada_code, "customerId": world.bob.key})

    body = response.json()
    applied = body["data"]["applyReferralCode"]
    assert applied["errors"] == []
    assert applied["referral"]["referee"] == full(world.bob)
    assert applied["referral"]["referrer"] is None
    assert refused_paths(body) == {("applyReferralCode", "referral")}
    assert refusals(body) == {"FORBIDDEN"}
    assert world.leaks(response, world.ada) == []
    again = await world.bob_token.raw(APPLY, {"code": ada_code, "customerId": world.bob.key})
    assert world.leaks(again, world.ada) == []

    admin = (await tenant.gql(REFERRALS, {"campaignId": program}))["referrals"]
    [node] = [edge["node"] for edge in admin["edges"]]
    assert (node["referrer"], node["referee"]) == (full(world.ada), full(world.bob))
    for caller in (world.ada_token, world.bob_token, world.pos, other_tenant.gql):
        listed = await caller.raw(REFERRALS, {"campaignId": program})
        assert world.leaks(listed, world.ada, world.bob) == []


async def test_me_shows_the_customer_its_own_data_only(tenant: Tenant) -> None:
    world = await people(tenant)

    response = await world.bob_token.raw(ME)

    body = response.json()
    assert "errors" not in body
    assert body["data"]["me"]["customer"] == full(world.bob)
    assert {coupon["code"] for coupon in body["data"]["me"]["coupons"]} == {
        "BOBCODE1",
        "BOBCODE2",
    }
    assert all(coupon["customer"] == full(world.bob) for coupon in body["data"]["me"]["coupons"])
    assert world.leaks(response, world.ada) == []
    ada_me = await world.ada_token.raw(ME)
    assert ada_me.json()["data"]["me"]["customer"] == full(world.ada)
    assert world.leaks(ada_me, world.bob) == []


async def test_customers_are_read_by_admin_keys_of_their_project_only(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)

    assert (await tenant.gql(CUSTOMER, {"id": world.bob.key}))["customer"] == full(world.bob)
    for caller in (world.pos, world.ada_token, other_tenant.gql):
        for query, variables in ((CUSTOMER, {"id": world.bob.key}), (CUSTOMERS, {})):
            response = await caller.raw(query, variables)
            assert world.leaks(response, world.ada, world.bob) == []
    assert (await other_tenant.gql(CUSTOMER, {"id": world.bob.key}))["customer"] is None


async def test_messages_and_previews_carry_the_recipient_for_admin_keys_only(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)

    sent = (await tenant.gql(SEND, {"customerId": world.bob.key}))["sendMessage"]
    assert sent["errors"] == []
    assert sent["message"]["to"] == world.bob.email
    assert sent["message"]["customer"] == full(world.bob)
    listed = (await tenant.gql(MESSAGES, {"customerId": world.bob.key}))["messages"]
    assert [edge["node"]["to"] for edge in listed["edges"]] == [world.bob.email]
    preview = (await tenant.gql(PREVIEW, {"customerId": world.bob.key}))["previewTemplate"]
    assert "Bob" in preview["text"]

    for caller in (world.pos, world.bob_token, world.ada_token, other_tenant.gql):
        for query in (MESSAGES, PREVIEW, SEND):
            response = await caller.raw(query, {"customerId": world.bob.key})
            assert world.leaks(response, world.bob) == []
            assert "Bob" not in response.text
    others = (await other_tenant.gql(MESSAGES, {"customerId": world.bob.key}))["messages"]
    assert others["totalCount"] == 0


async def test_orders_events_and_segments_show_customers_to_admin_keys(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)
    bob = {"customerId": world.bob.key}
    filter = {"field": "email", "op": "eq", "value": world.bob.email}

    order = (await tenant.gql(RECORD_ORDER, bob))["recordOrder"]["order"]
    assert order["customer"]["email"] == world.bob.email
    segment = (await tenant.gql(SEGMENT, {"filter": filter}))["createSegment"]["segment"]
    assert [customer["email"] for customer in segment["sample"]] == [world.bob.email]
    own = (await world.bob_token(TRACK, bob))["trackEvent"]["event"]
    assert own["customerId"] == world.bob.key
    assert own["properties"] == {"note": "gift for Bob Marrowby"}
    events = (await tenant.gql(EVENTS, bob))["customerEvents"]["edges"]
    assert own["properties"] in [edge["node"]["properties"] for edge in events]

    for caller in (world.pos, world.ada_token, other_tenant.gql):
        for query, variables in (
            (RECORD_ORDER, bob),
            (TRACK, bob),
            (EVENTS, bob),
            (SEGMENT, {"filter": filter}),
        ):
            response = await caller.raw(query, variables)
            assert world.leaks(response, world.bob) == [], (caller.token, query)


async def test_cards_and_scheduled_actions_show_customers_to_whom_they_belong(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    world = await people(tenant)
    program = await loyalty_program(tenant)
    campaign = await make_campaign(project_id=tenant.project_id, name="Cart")
    created = await tenant.gql(CREATE_AUTOMATION, {"input": cart_input(campaign.key)})
    automation_id = created["createAutomation"]["automation"]["id"]
    tracked = await tenant.gql(ABANDON, {"customerId": world.bob.key})
    assert tracked["trackEvent"]["errors"] == []
    bob_card = {"customerId": world.bob.key, "campaignId": program}

    actions = (await tenant.gql(SCHEDULED, {"id": automation_id}))["automation"]
    assert [edge["node"]["customer"] for edge in actions["scheduledActions"]["edges"]] == [
        full(world.bob)
    ]
    own = (await world.bob_token(CARD, bob_card))["loyaltyCard"]
    assert own["customerId"] == world.bob.key
    mine = (await world.bob_token(MY_CARDS))["me"]["loyaltyCards"]
    assert [card["customerId"] for card in mine] == [world.bob.key]

    for caller in (world.pos, world.ada_token, other_tenant.gql):
        response = await caller.raw(SCHEDULED, {"id": automation_id})
        assert world.leaks(response, world.bob) == []
        card = (await caller.raw(CARD, bob_card)).json()
        assert refusals(card) <= {"FORBIDDEN", "NOT_FOUND"} and card.get("data") is None

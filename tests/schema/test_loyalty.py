"""Loyalty programs over GraphQL: configuration, rewards, exchanges, cards, adjustments and who
may call them."""

import asyncio
from typing import Any

from domain.campaigns import Campaign
from domain.codes import publish_code
from domain.common import Money
from domain.customers import issue_customer_token
from domain.loyalty import LedgerEntry, Reward, earn_for_order, find_card, ledger_sum
from domain.projects import Role, create_api_key
from tests.factories import Tenant, make_campaign, make_customer

CREATE_PROGRAM = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) {
    campaign { id kind loyalty { pointsPerUnit rounding pointsPerOrder events { name points }
                                 tiers { name threshold multiplier } tierWindowDays expiryDays } }
    errors { code field }
  }
}"""
CREATE_REWARD = """
mutation ($input: RewardInput!) {
  createReward(input: $input) {
    reward { id campaignId name cost discountCampaignId }
    errors { code field }
  }
}"""
REWARDS = "query ($id: ID!) { rewards(campaignId: $id) { id name cost } }"
UPDATE_REWARD = """
mutation ($id: ID!, $input: RewardInput!) {
  updateReward(id: $id, input: $input) {
    reward { id name cost discountCampaignId }
    errors { code field }
  }
}"""
EXCHANGE = """
mutation ($customerId: ID!, $rewardId: ID!, $key: String!) {
  exchangePoints(customerId: $customerId, rewardId: $rewardId, idempotencyKey: $key) {
    code { code }
    card { points }
    errors { code field }
  }
}"""
ADJUST = """
mutation ($customerId: ID!, $campaignId: ID!, $points: Int!, $reason: String!) {
  adjustPoints(customerId: $customerId, campaignId: $campaignId, points: $points,
               reason: $reason) {
    card { points }
    errors { code field }
  }
}"""
EVENT = """
mutation ($customerId: ID!, $campaignId: ID!, $name: String!, $key: String!) {
  recordLoyaltyEvent(customerId: $customerId, campaignId: $campaignId, name: $name,
                     idempotencyKey: $key) {
    card { points }
    errors { code field }
  }
}"""
CARD = """
query ($customerId: ID!, $campaignId: ID!, $first: Int, $after: String) {
  loyaltyCard(customerId: $customerId, campaignId: $campaignId) {
    points tier earnedTotal
    expiringSoon { points at }
    ledger(first: $first, after: $after) {
      edges { node { kind points reason source remaining expiresAt } }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
}"""
PROGRAM = {
    "name": "Points",
    "kind": "LOYALTY",
    "loyalty": {
        "pointsPerUnit": 1,
        "rounding": "HALF_EVEN",
        "pointsPerOrder": 5,
        "events": [{"name": "review", "points": 20}],
        "tiers": [{"name": "Gold", "threshold": 1000, "multiplier": 2}],
        "tierWindowDays": 90,
        "expiryDays": 10,
    },
}


async def create_program(tenant: Tenant) -> str:
    payload = (await tenant.gql(CREATE_PROGRAM, {"input": PROGRAM}))["createCampaign"]
    assert payload["errors"] == []
    return str(payload["campaign"]["id"])


async def create_reward(tenant: Tenant, program_id: str, cost: int, **extra: Any) -> str:
    variables = {"input": {"campaignId": program_id, "name": "Coffee", "cost": cost, **extra}}
    payload = (await tenant.gql(CREATE_REWARD, variables))["createReward"]
    assert payload["errors"] == []
    return str(payload["reward"]["id"])


async def adjust(tenant: Tenant, customer_id: str, program_id: str, points: int) -> Any:
    variables = {
        "customerId": customer_id,
        "campaignId": program_id,
        "points": points,
        "reason": "goodwill",
    }
    return (await tenant.gql(ADJUST, variables))["adjustPoints"]


async def test_a_program_is_configured_and_shown(tenant: Tenant) -> None:
    payload = (await tenant.gql(CREATE_PROGRAM, {"input": PROGRAM}))["createCampaign"]
    assert payload["campaign"]["loyalty"] == {**PROGRAM["loyalty"], "pointsPerUnit": 1.0}
    invalid = {
        "name": "Broken",
        "kind": "LOYALTY",
        "loyalty": {"pointsPerOrder": -1, "expiryDays": 0, "tiers": [{"name": "", "threshold": 1}]},
    }
    refused = (await tenant.gql(CREATE_PROGRAM, {"input": invalid}))["createCampaign"]
    assert refused["campaign"] is None
    assert {(e["code"], e["field"]) for e in refused["errors"]} == {
        ("INVALID_POINTS", "loyalty.pointsPerOrder"),
        ("INVALID_DAYS", "loyalty.expiryDays"),
        ("INVALID_TIER", "loyalty.tiers"),
    }
    assert await Campaign.find({"project_id": tenant.project_id}).count() == 1


async def test_earning_spending_and_the_card_with_its_ledger(tenant: Tenant) -> None:
    program_id = await create_program(tenant)
    customer = await make_customer(project_id=tenant.project_id)
    discount = await make_campaign(project_id=tenant.project_id)
    reward_id = await create_reward(tenant, program_id, 30, discountCampaignId=discount.key)
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=Money(amount=4_550, currency="EUR"),
    )
    event = {"customerId": customer.key, "campaignId": program_id, "name": "review", "key": "r"}
    assert (await tenant.gql(EVENT, event))["recordLoyaltyEvent"]["card"]["points"] == 71

    variables = {"customerId": customer.key, "rewardId": reward_id, "key": "x-1"}
    exchanged = (await tenant.gql(EXCHANGE, variables))["exchangePoints"]
    assert exchanged["errors"] == [] and exchanged["card"]["points"] == 41
    assert exchanged["code"]["code"]
    assert (await tenant.gql(EXCHANGE, variables))["exchangePoints"] == exchanged

    card_vars = {"customerId": customer.key, "campaignId": program_id, "first": 2}
    card = (await tenant.gql(CARD, card_vars))["loyaltyCard"]
    assert (card["points"], card["tier"], card["earnedTotal"]) == (41, "", 71)
    # 45.50 EUR rounds half to even to 46, plus 5 per order; 20 for the review.
    assert card["ledger"]["totalCount"] == 3
    first_page = [e["node"] for e in card["ledger"]["edges"]]
    assert [(e["kind"], e["points"], e["source"]) for e in first_page] == [
        ("EARN", 51, "o-1"),
        ("EARN", 20, "review"),
    ]
    assert first_page[0]["remaining"] == 21 and first_page[0]["expiresAt"]
    assert sum(item["points"] for item in card["expiringSoon"]) == 41
    after = {**card_vars, "after": card["ledger"]["pageInfo"]["endCursor"]}
    rest = (await tenant.gql(CARD, after))["loyaltyCard"]["ledger"]
    assert [(e["node"]["kind"], e["node"]["points"]) for e in rest["edges"]] == [("SPEND", -30)]
    assert rest["pageInfo"]["hasNextPage"] is False

    rewards = (await tenant.gql(REWARDS, {"id": program_id}))["rewards"]
    assert rewards == [{"id": reward_id, "name": "Coffee", "cost": 30}]


async def test_a_hundred_exchanges_racing_over_graphql_succeed_ten_times(tenant: Tenant) -> None:
    program_id = await create_program(tenant)
    customer = await make_customer(project_id=tenant.project_id)
    reward_id = await create_reward(tenant, program_id, 7)
    assert (await adjust(tenant, customer.key, program_id, 70))["card"]["points"] == 70

    async def exchange(n: int) -> str:
        variables = {"customerId": customer.key, "rewardId": reward_id, "key": f"k-{n}"}
        payload = (await tenant.gql(EXCHANGE, variables))["exchangePoints"]
        return "exchanged" if payload["card"] else str(payload["errors"][0]["code"])

    outcomes = await asyncio.gather(*(exchange(n) for n in range(100)))
    assert outcomes.count("exchanged") == 10
    assert outcomes.count("INSUFFICIENT_POINTS") == 90
    card = await find_card(
        project_id=tenant.project_id, campaign_id=program_id, customer_id=customer.key
    )
    assert card.balance == 0
    assert await ledger_sum(card_id=card.key) == 0
    assert await LedgerEntry.find({"card_id": card.key}).count() == 11


async def test_adjustments_refuse_to_go_below_zero(tenant: Tenant) -> None:
    program_id = await create_program(tenant)
    customer = await make_customer(project_id=tenant.project_id)
    await adjust(tenant, customer.key, program_id, 10)
    refused = await adjust(tenant, customer.key, program_id, -11)
    assert refused["card"] is None
    assert refused["errors"] == [{"code": "INSUFFICIENT_POINTS", "field": "points"}]
    assert (await adjust(tenant, customer.key, program_id, -10))["card"]["points"] == 0


async def test_invalid_reward_input_writes_nothing(tenant: Tenant) -> None:
    program_id = await create_program(tenant)
    variables = {"input": {"campaignId": program_id, "name": "", "cost": -5}}
    refused = (await tenant.gql(CREATE_REWARD, variables))["createReward"]
    assert refused["reward"] is None
    assert {(e["code"], e["field"]) for e in refused["errors"]} == {
        ("REQUIRED", "name"),
        ("INVALID_POINTS", "cost"),
    }
    assert await Reward.find({"project_id": tenant.project_id}).count() == 0


async def test_a_customer_token_exchanges_and_reads_its_own_card_only(tenant: Tenant) -> None:
    program_id = await create_program(tenant)
    reward_id = await create_reward(tenant, program_id, 10)
    me = await make_customer(project_id=tenant.project_id)
    other = await make_customer(project_id=tenant.project_id)
    await adjust(tenant, me.key, program_id, 20)
    await adjust(tenant, other.key, program_id, 20)
    customer = tenant.gql.as_token(await issue_customer_token(tenant.project_id, me.key))

    own = {"customerId": me.key, "rewardId": reward_id, "key": "mine"}
    assert (await customer(EXCHANGE, own))["exchangePoints"]["card"]["points"] == 10
    own_card = {"customerId": me.key, "campaignId": program_id}
    assert (await customer(CARD, own_card))["loyaltyCard"]["points"] == 10

    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)
    theirs = {"customerId": other.key, "rewardId": reward_id, "key": "theirs"}
    their_card = {"customerId": other.key, "campaignId": program_id}
    for caller, query, variables in [
        (customer, EXCHANGE, theirs),
        (customer, CARD, their_card),
        (pos, EXCHANGE, own),
        (pos, CARD, own_card),
        (customer, ADJUST, {**own_card, "points": 5, "reason": "me"}),
    ]:
        body = (await caller.raw(query, variables)).json()
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}, query
    other_card = await find_card(
        project_id=tenant.project_id, campaign_id=program_id, customer_id=other.key
    )
    assert other_card.balance == 20


async def test_projects_see_only_their_own_programs(tenant: Tenant, other_tenant: Tenant) -> None:
    program_id = await create_program(tenant)
    reward_id = await create_reward(tenant, program_id, 10)
    customer = await make_customer(project_id=tenant.project_id)
    await adjust(tenant, customer.key, program_id, 20)
    stranger = await make_customer(project_id=other_tenant.project_id)

    assert (await other_tenant.gql(REWARDS, {"id": program_id}))["rewards"] == []
    variables = {"customerId": stranger.key, "rewardId": reward_id, "key": "k"}
    refused = (await other_tenant.gql(EXCHANGE, variables))["exchangePoints"]
    assert refused["errors"] == [{"code": "NOT_FOUND", "field": "rewardId"}]
    body = (
        await other_tenant.gql.raw(CARD, {"customerId": customer.key, "campaignId": program_id})
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    reward_vars = {"input": {"campaignId": program_id, "name": "Mug", "cost": 5}}
    stolen = (await other_tenant.gql(CREATE_REWARD, reward_vars))["createReward"]
    assert stolen["errors"] == [{"code": "NOT_FOUND", "field": "campaignId"}]
    assert (
        await find_card(
            project_id=tenant.project_id, campaign_id=program_id, customer_id=customer.key
        )
    ).balance == 20


ME = """
{ me { customer { id } coupons { code campaign { id } }
       loyaltyCards { campaignId customerId points tier } } }"""


async def test_me_shows_the_customers_own_coupons_and_cards(tenant: Tenant) -> None:
    earning = await create_program(tenant)
    joined_later = await create_program(tenant)
    me = await make_customer(project_id=tenant.project_id)
    other = await make_customer(project_id=tenant.project_id)
    await adjust(tenant, me.key, earning, 30)
    await adjust(tenant, other.key, joined_later, 99)
    summer = await make_campaign(project_id=tenant.project_id)
    winter = await make_campaign(project_id=tenant.project_id, name="Winter")
    first = await publish_code(tenant.project_id, summer.key, me.key)
    second = await publish_code(tenant.project_id, winter.key, me.key)
    await publish_code(tenant.project_id, summer.key, other.key)

    customer = tenant.gql.as_token(await issue_customer_token(tenant.project_id, me.key))
    seen = (await customer(ME))["me"]
    assert seen["customer"] == {"id": me.key}
    assert [c["code"] for c in seen["coupons"]] == [second.code, first.code]
    assert seen["coupons"][0]["campaign"] == {"id": winter.key}
    cards = {card["campaignId"]: card for card in seen["loyaltyCards"]}
    assert cards == {
        earning: {"campaignId": earning, "customerId": me.key, "points": 30, "tier": ""},
        joined_later: {"campaignId": joined_later, "customerId": me.key, "points": 0, "tier": ""},
    }
    body = (await tenant.gql.raw(ME)).json()
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}


async def test_tiers_by_amount_spent_over_graphql(tenant: Tenant) -> None:
    program = {
        "name": "Spenders",
        "kind": "LOYALTY",
        "loyalty": {
            "tierBasis": "SPENT",
            "currency": "eur",
            "tiers": [{"name": "Silver", "threshold": 10_000, "multiplier": 1}],
        },
    }
    created = (await tenant.gql(CREATE_SPENDERS, {"input": program}))["createCampaign"]
    assert created["errors"] == []
    assert created["campaign"]["loyalty"] == {"tierBasis": "SPENT", "currency": "EUR"}
    program_id = created["campaign"]["id"]
    refused = await tenant.gql(
        CREATE_SPENDERS, {"input": {**program, "loyalty": {"tierBasis": "SPENT"}}}
    )
    assert refused["createCampaign"]["errors"] == [
        {"code": "REQUIRED", "field": "loyalty.currency"}
    ]
    customer = await make_customer(project_id=tenant.project_id)

    async def order(order_id: str, amount: int, currency: str = "EUR") -> None:
        variables = {
            "input": {
                "id": order_id,
                "customerId": customer.key,
                "amount": {"amount": amount, "currency": currency},
            }
        }
        assert (await tenant.gql(RECORD_ORDER, variables))["recordOrder"]["errors"] == []

    async def tier() -> str:
        card = await tenant.gql(CARD, {"customerId": customer.key, "campaignId": program_id})
        return str(card["loyaltyCard"]["tier"])

    await order("o-1", 6_000)
    await order("o-2", 9_000, "USD")
    assert await tier() == ""
    await order("o-3", 4_000)
    assert await tier() == "Silver"
    cancel = 'mutation { updateOrderStatus(id: "o-3", status: REFUNDED) { errors { code } } }'
    assert (await tenant.gql(cancel))["updateOrderStatus"]["errors"] == []
    assert await tier() == ""


CREATE_SPENDERS = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) {
    campaign { id loyalty { tierBasis currency } }
    errors { code field }
  }
}"""
RECORD_ORDER = """
mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { errors { code field } } }"""


async def test_a_reward_is_updated_with_the_same_checks_and_stays_in_its_program(
    tenant: Tenant,
) -> None:
    program_id = await create_program(tenant)
    reward_id = await create_reward(tenant, program_id, 100)
    refused = (
        await tenant.gql(
            UPDATE_REWARD,
            {"id": reward_id, "input": {"campaignId": program_id, "name": " ", "cost": 0}},
        )
    )["updateReward"]
    assert refused["reward"] is None
    assert {(e["code"], e["field"]) for e in refused["errors"]} == {
        ("REQUIRED", "name"),
        ("INVALID_POINTS", "cost"),
    }
    other_id = await create_program(tenant)
    moved = (
        await tenant.gql(
            UPDATE_REWARD,
            {"id": reward_id, "input": {"campaignId": other_id, "name": "Tea", "cost": 80}},
        )
    )["updateReward"]
    assert [(e["code"], e["field"]) for e in moved["errors"]] == [("INVALID", "campaignId")]
    changed = (
        await tenant.gql(
            UPDATE_REWARD,
            {"id": reward_id, "input": {"campaignId": program_id, "name": "Tea", "cost": 80}},
        )
    )["updateReward"]
    assert changed == {
        "reward": {"id": reward_id, "name": "Tea", "cost": 80, "discountCampaignId": None},
        "errors": [],
    }
    listed = (await tenant.gql(REWARDS, {"id": program_id}))["rewards"]
    assert listed == [{"id": reward_id, "name": "Tea", "cost": 80}]

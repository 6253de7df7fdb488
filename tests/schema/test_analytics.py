"""campaignStats and projectOverview over GraphQL: figures, window, tenancy and roles."""

from domain import analytics
from domain.orders import Order
from domain.projects import Role, create_api_key
from tests.domain.test_analytics import seed
from tests.factories import Tenant

STATS = """
query ($id: ID!, $from: DateTime, $to: DateTime) {
  campaignStats(campaignId: $id, from: $from, to: $to) {
    campaign { name } from to currency
    issued published delivered validated redeemed rolledBack redemptionRate
    deliveredByChannel { channel sent delivered undelivered redeemed }
    passesAdded appleRegistrations googleIssued
    ordersAttributed revenue { amount currency } revenueByCurrency { amount currency }
    discountCost { amount currency } roi
    averageBasket { amount } ordersWithout averageBasketWithout { amount }
    daily { day published validated redeemed revenue { amount } discountCost { amount } }
  }
}"""

OVERVIEW = """
query {
  projectOverview {
    activeCampaigns redemptionsToday pointsOutstanding referralConversion
    topCampaigns(first: 5) { campaign { name } redeemed revenue { amount currency } }
  }
}"""


async def test_campaign_stats_over_graphql(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)

    whole = (await tenant.gql(STATS, {"id": scenario.spring.key}))["campaignStats"]
    window = (
        await tenant.gql(
            STATS,
            {
                "id": scenario.spring.key,
                "from": "2026-05-04T12:30:00Z",
                "to": "2026-05-05T21:45:00Z",
            },
        )
    )["campaignStats"]

    assert whole["campaign"]["name"] == "Spring"
    assert (whole["from"], whole["to"]) == (None, None)
    assert (whole["issued"], whole["published"], whole["delivered"]) == (6, 5, 3)
    assert (whole["validated"], whole["redeemed"], whole["rolledBack"]) == (3, 3, 1)
    assert whole["redemptionRate"] == 0.6
    assert whole["deliveredByChannel"] == [
        {"channel": "EMAIL", "sent": 2, "delivered": 2, "undelivered": 0, "redeemed": 1},
        {"channel": "SMS", "sent": 2, "delivered": 1, "undelivered": 1, "redeemed": 1},
    ]
    assert (whole["passesAdded"], whole["appleRegistrations"], whole["googleIssued"]) == (2, 1, 1)
    assert whole["ordersAttributed"] == 5
    assert whole["revenue"] == {"amount": 31_000, "currency": "EUR"}
    assert whole["revenueByCurrency"] == [
        {"amount": 31_000, "currency": "EUR"},
        {"amount": 4_000, "currency": "USD"},
    ]
    assert whole["discountCost"] == {"amount": 1_500, "currency": "EUR"}
    assert abs(whole["roi"] - 29_500 / 1_500) < 1e-9
    assert whole["averageBasket"] == {"amount": 7_750}
    assert (whole["ordersWithout"], whole["averageBasketWithout"]) == (4, {"amount": 2_750})
    assert [(d["day"], d["redeemed"], d["revenue"]["amount"]) for d in whole["daily"]] == [
        ("2026-05-04", 1, 10_000),
        ("2026-05-05", 1, 13_000),
        ("2026-05-06", 1, 8_000),
    ]

    assert window["from"].startswith("2026-05-04T12:30:00")
    assert (window["published"], window["redeemed"], window["ordersAttributed"]) == (1, 1, 2)
    assert window["revenue"] == {"amount": 6_000, "currency": "EUR"}
    assert window["roi"] == 11.0
    assert window["daily"] == [
        {
            "day": "2026-05-04",
            "published": 0,
            "validated": 2,
            "redeemed": 0,
            "revenue": {"amount": 0},
            "discountCost": {"amount": 0},
        },
        {
            "day": "2026-05-05",
            "published": 1,
            "validated": 1,
            "redeemed": 1,
            "revenue": {"amount": 6_000},
            "discountCost": {"amount": 500},
        },
    ]


async def test_validate_code_over_graphql_is_counted(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)
    query = 'query { validateCode(code: "SPRA") { valid reasons } }'

    await tenant.gql(query)
    await tenant.gql('query { validateCode(code: "NOPE") { valid } }')

    stats = await tenant.gql(STATS, {"id": scenario.spring.key})
    assert stats["campaignStats"]["validated"] == 3 + 1


async def test_another_projects_campaign_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)

    response = await other_tenant.gql.raw(STATS, {"id": scenario.spring.key})

    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_pos_keys_see_no_analytics(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)
    pos = await create_api_key(tenant.project_id, Role.POS)

    response = await tenant.gql.as_token(pos.secret).raw(STATS, {"id": scenario.spring.key})

    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_project_overview_over_graphql(tenant: Tenant, other_tenant: Tenant) -> None:
    await seed(tenant.project_id)

    mine = (await tenant.gql(OVERVIEW))["projectOverview"]
    theirs = (await other_tenant.gql(OVERVIEW))["projectOverview"]

    # Spring is active; Other is paused.
    assert mine["activeCampaigns"] == 1
    assert (mine["pointsOutstanding"], mine["referralConversion"]) == (0, 0.0)
    # The seeded redemptions are of May 2026: older than 30 days, or not yet, depending on
    # today's date; either way no other project's campaign shows.
    assert all(row["campaign"]["name"] == "Spring" for row in mine["topCampaigns"])
    assert theirs == {
        "activeCampaigns": 0,
        "redemptionsToday": 0,
        "pointsOutstanding": 0,
        "referralConversion": 0.0,
        "topCampaigns": [],
    }


async def test_totals_beyond_32_bits_are_served_whole(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)
    # Every order worth €10,000,000.00, within Int: together they outgrow it.
    await Order.get_pymongo_collection().update_many(
        {"project_id": tenant.project_id}, {"$set": {"amount.amount": 1_000_000_000}}
    )
    expected = await analytics.campaign_stats(
        project_id=tenant.project_id, campaign_id=scenario.spring.key
    )
    assert expected.revenue.amount > 2**31

    whole = (await tenant.gql(STATS, {"id": scenario.spring.key}))["campaignStats"]

    assert whole["revenue"] == {"amount": expected.revenue.amount, "currency": "EUR"}
    assert sum(day["revenue"]["amount"] for day in whole["daily"]) == expected.revenue.amount

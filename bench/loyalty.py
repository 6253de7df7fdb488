"""recordOrder (earning loyalty points) over GraphQL with 32 concurrent clients, beside the floor:
bare pymongo making the same writes per order (order, customer metrics, ledger entry, card).

Run: .venv/bin/python -m bench.loyalty [--requests 1000] [--concurrency 32]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own,
and a real `engage serve`.
"""

import asyncio
import uuid

from pymongo import AsyncMongoClient

from api.database import init_database, make_client
from bench._harness import (
    LeanClient,
    arguments,
    client_line,
    database,
    engage_service,
    measure,
    print_comparison,
)
from domain.campaigns import Campaign, CampaignKind
from domain.common import utc_now
from domain.customers import Customer
from domain.loyalty_config import LoyaltyConfig, LoyaltyTier
from domain.projects import Project

CUSTOMERS = 100
AMOUNT = 4_990
# One point per euro, floored: 49 points an order.
POINTS = AMOUNT // 100
RECORD = """
mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) { order { id status } errors { code } }
}"""


async def prepare(uri: str, name: str) -> list[str]:
    """A loyalty program earning a point per euro with one tier, and customers; returns their
    ids."""
    client = make_client(uri)
    await init_database(client, name)
    project = await Project.find_one({"name": "bench"})
    assert project is not None
    await Campaign(
        project_id=project.key,
        name="points",
        kind=CampaignKind.LOYALTY,
        # A tier every customer reaches part-way, so tier moves are measured too.
        loyalty=LoyaltyConfig(
            points_per_unit=1, tiers=[LoyaltyTier(name="Silver", threshold=4 * POINTS)]
        ),
    ).insert()
    await Customer.insert_many(
        [Customer(project_id=project.key, name=f"c{i}") for i in range(CUSTOMERS)]
    )
    found = await Customer.find({"project_id": project.key}).to_list()
    await client.close()
    return [customer.key for customer in found]


async def totals(uri: str, name: str) -> tuple[int, int, int, int]:
    """(orders stored, orders counted in customer metrics, points on cards, Silver cards)."""
    client: AsyncMongoClient = AsyncMongoClient(uri)
    db = client[name]
    orders = await db["orders"].count_documents({})
    counted = sum([c["metrics"]["orders_count"] async for c in db["customers"].find({})])
    cards = [card async for card in db["loyalty_cards"].find({})]
    await client.close()
    points = sum(card["balance"] for card in cards)
    return orders, counted, points, sum(card["tier"] == "Silver" for card in cards)


async def run(uri: str, count: int, concurrency: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with engage_service(uri, name) as (base, key):
        customers = await prepare(uri, name)
        headers = {"Authorization": f"Bearer {key}"}
        async with LeanClient(base, headers=headers, connections=concurrency) as http:
            print(client_line(http))

            async def record(i: int) -> None:
                variables = {
                    "input": {
                        "id": f"o-{i}",
                        "customerId": customers[i % len(customers)],
                        "amount": {"amount": AMOUNT, "currency": "EUR"},
                    }
                }
                response = await http.post(
                    "/graphql", json={"query": RECORD, "variables": variables}
                )
                payload = response.json()["data"]["recordOrder"]
                assert payload["errors"] == [], payload

            ours = await measure("GraphQL recordOrder with earning", count, concurrency, record)
    # Customer c gets orders c, c + CUSTOMERS, ...: Silver from the fourth.
    silver = sum(len(range(c, count, CUSTOMERS)) >= 4 for c in range(CUSTOMERS))
    assert await totals(uri, name) == (count, count, count * POINTS, silver)

    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    db = client[name]
    cards = [
        (await db["floor_cards"].insert_one({"customer": c, "balance": 0})).inserted_id
        for c in customers
    ]

    async def write_order(i: int) -> None:
        customer = i % len(customers)
        now = utc_now()
        order = await db["floor_orders"].insert_one(
            {"order_id": f"o-{i}", "customer_id": customers[customer], "amount": AMOUNT}
        )
        await db["floor_customers"].update_one(
            {"customer": customers[customer]},
            {"$inc": {"orders_count": 1, "total_spent": AMOUNT}, "$max": {"last": now}},
            upsert=True,
        )
        entry = await db["floor_ledger"].insert_one(
            {"card": cards[customer], "key": f"order:o-{i}", "points": POINTS, "applied": False}
        )
        await db["floor_cards"].update_one({"_id": cards[customer]}, {"$inc": {"balance": POINTS}})
        await db["floor_ledger"].update_one({"_id": entry.inserted_id}, {"$set": {"applied": True}})
        await db["floor_orders"].update_one(
            {"_id": order.inserted_id}, {"$set": {"effects_pending": False}}
        )

    floor = await measure("pymongo, the same writes", count, concurrency, write_order)
    await client.drop_database(name)
    await client.close()

    print(
        f"{count} orders, {concurrency} concurrent clients, {CUSTOMERS} customers, one loyalty "
        "program with a tier; stored orders, customer metrics, card balances and tiers checked"
    )
    print_comparison(ours, floor)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.requests, args.concurrency))


if __name__ == "__main__":
    main()

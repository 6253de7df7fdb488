"""campaignStats over GraphQL on a campaign with 1,000,000 redemptions (and as many orders),
beside the floor: the same aggregation pipelines run bare with pymongo. Then a dynamic
segment's size over 100,000 customers, when domain.segments offers segment_size.

Run: .venv/bin/python -m bench.analytics [--redemptions 1000000] [--customers 100000]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own,
and a real `engage serve`.
Seeding goes straight to the database with insert_many (about 6,000 documents/s embedded).
"""

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pymongo import AsyncMongoClient

from api.database import init_database, make_client
from bench._harness import arguments, database, engage_service
from domain.campaigns import Campaign, Discount, DiscountType
from domain.projects import Project

BATCH = 10_000
DAYS = 30
RUNS = 3
START = datetime(2026, 4, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
STATS = """
query ($id: ID!, $from: DateTime, $to: DateTime) {
  campaignStats(campaignId: $id, from: $from, to: $to) {
    published redeemed rolledBack revenue { amount } discountCost { amount } roi
    ordersAttributed averageBasket { amount } averageBasketWithout { amount }
    deliveredByChannel { channel delivered redeemed } validated
    daily { day redeemed revenue { amount } }
  }
}"""


async def seed(uri: str, name: str, count: int) -> tuple[str, str]:
    """One campaign (Europe/Paris, 5 EUR off) with `count` redemptions spread over 30 days,
    each with its order, 1 in 50 rolled back; a tenth as many orders without its codes."""
    client = make_client(uri)
    await init_database(client, name)
    project = await Project.find_one({"name": "bench"})
    assert project is not None
    campaign = Campaign(
        project_id=project.key,
        name="bench",
        timezone="Europe/Paris",
        discount=Discount(type=DiscountType.PERCENT, percent_off=10),
        codes_count=count,
    )
    await campaign.insert()
    db = client[name]
    step = timedelta(days=DAYS) / max(1, count)
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        redemptions: list[dict[str, Any]] = []
        orders: list[dict[str, Any]] = []
        for i in range(first, min(count, first + BATCH)):
            moment = START + step * i
            amount = 2_000 + (i % 50) * 100
            redemptions.append(
                {
                    "project_id": project.key,
                    "code": f"B{i:08d}",
                    "code_id": f"code-{i}",
                    "campaign_id": campaign.key,
                    "customer_id": f"customer-{i % 5_000}",
                    "order": {"id": f"o-{i}", "amount": {"amount": amount, "currency": "EUR"}},
                    "discount": {"amount": amount // 10, "currency": "EUR"},
                    "channel": "ONLINE",
                    "status": "ROLLED_BACK" if i % 50 == 0 else "SUCCEEDED",
                    "day": moment.astimezone(PARIS).strftime("%Y-%m-%d"),
                    "holds_counters": i % 50 != 0,
                    "created_at": moment,
                    "completed_at": moment,
                    "message_id": "",
                    "message_channel": "EMAIL" if i % 3 == 0 else "",
                }
            )
            orders.append(order_document(project.key, f"o-{i}", amount, moment, [campaign.key]))
            if i % 10 == 0:
                orders.append(order_document(project.key, f"x-{i}", 3_000, moment, []))
        await db["redemptions"].insert_many(redemptions, ordered=False)
        await db["orders"].insert_many(orders, ordered=False)
        done = min(count, first + BATCH)
        if done % 100_000 == 0 or done == count:
            rate = done / (time.perf_counter() - started)
            print(f"  seeded {done} redemptions and their orders ({rate:.0f} redemptions/s)")
    await client.close()
    return project.key, campaign.key


def order_document(
    project_id: str, order_id: str, amount: int, moment: datetime, campaign_ids: list[str]
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "order_id": order_id,
        "customer_id": "",
        "amount": {"amount": amount, "currency": "EUR"},
        "items": [],
        "codes": [],
        "campaign_ids": campaign_ids,
        "status": "PAID",
        "created_at": moment,
        "effects_pending": False,
        "reversal_pending": False,
    }


async def floor_seconds(uri: str, name: str, project_id: str, campaign_id: str) -> float:
    """The pipelines campaignStats runs over redemptions and orders, bare: one pass each."""
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    db = client[name]
    hour = {"$dateToString": {"format": "%Y-%m-%dT%H", "date": "$completed_at"}}
    order_hour = {"$dateToString": {"format": "%Y-%m-%dT%H", "date": "$created_at"}}
    pipelines: list[tuple[str, list[dict[str, Any]]]] = [
        (
            "redemptions",
            [
                {
                    "$match": {
                        "project_id": project_id,
                        "campaign_id": campaign_id,
                        "status": {"$in": ["SUCCEEDED", "ROLLED_BACK"]},
                    }
                },
                {
                    "$project": {
                        "_id": 0,
                        "k": {
                            "$concat": [
                                hour,
                                "|",
                                "$status",
                                "|",
                                {"$ifNull": ["$discount.currency", ""]},
                                "|",
                                {"$ifNull": ["$message_channel", ""]},
                            ]
                        },
                        "a": "$discount.amount",
                    }
                },
                {"$group": {"_id": "$k", "n": {"$sum": 1}, "a": {"$sum": "$a"}}},
            ],
        ),
        (
            "orders",
            [
                {
                    "$match": {
                        "project_id": project_id,
                        "campaign_ids": {"$in": [campaign_id]},
                        "status": "PAID",
                    }
                },
                {
                    "$project": {
                        "_id": 0,
                        "k": {"$concat": [order_hour, "|", "$amount.currency"]},
                        "a": "$amount.amount",
                    }
                },
                {"$group": {"_id": "$k", "n": {"$sum": 1}, "a": {"$sum": "$a"}}},
            ],
        ),
        (
            "orders",
            [
                {"$match": {"project_id": project_id, "status": "PAID"}},
                {
                    "$project": {
                        "_id": 0,
                        "k": {"$concat": [order_hour, "|", "$amount.currency"]},
                        "a": "$amount.amount",
                    }
                },
                {"$group": {"_id": "$k", "n": {"$sum": 1}, "a": {"$sum": "$a"}}},
            ],
        ),
    ]
    started = time.perf_counter()
    for collection, pipeline in pipelines:
        await (await db[collection].aggregate(pipeline)).to_list()
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def segment_line(uri: str, name: str, project_id: str, customers: int) -> str:
    try:
        from domain.segments import SegmentKind, create_segment, segment_size
    except ImportError:
        return "segment size: skipped (domain.segments has no segment_size)"
    from domain.customers import Customer, OrderMetrics

    client = make_client(uri)
    await init_database(client, name)
    for first in range(0, customers, BATCH):
        await Customer.insert_many(
            [
                Customer(
                    project_id=project_id,
                    name=f"c{i}",
                    metrics=OrderMetrics(orders_count=i % 5, total_spent=(i % 5) * 2_500),
                )
                for i in range(first, min(customers, first + BATCH))
            ]
        )
    segment = await create_segment(
        project_id=project_id,
        name="repeat buyers",
        kind=SegmentKind.DYNAMIC,
        filter={"field": "metrics.orders_count", "op": "gte", "value": 2},
    )
    timings = []
    size = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        size = await segment_size(segment=segment)
        timings.append(time.perf_counter() - started)
    await client.close()
    expected = sum(1 for i in range(customers) if i % 5 >= 2)
    assert size == expected, (size, expected)
    return (
        f"segment size, dynamic filter over {customers} customers: "
        f"median {statistics.median(timings):.2f} s (size {size}, checked)"
    )


async def run(uri: str, count: int, customers: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with engage_service(uri, name) as (base, key):
        started = time.perf_counter()
        project_id, campaign_id = await seed(uri, name, count)
        seeding = time.perf_counter() - started
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=3_600) as http:

            async def stats(variables: dict[str, Any]) -> tuple[float, dict[str, Any]]:
                began = time.perf_counter()
                response = await http.post(
                    "/graphql", json={"query": STATS, "variables": variables}
                )
                elapsed = time.perf_counter() - began
                body = response.json()
                assert not body.get("errors"), body
                return elapsed, body["data"]["campaignStats"]

            whole = [await stats({"id": campaign_id}) for _ in range(RUNS)]
            week = {
                "id": campaign_id,
                "from": (START + timedelta(days=10, minutes=30)).isoformat(),
                "to": (START + timedelta(days=17, minutes=30)).isoformat(),
            }
            windowed = [await stats(week) for _ in range(RUNS)]
        result = whole[0][1]
        rolled_back = len(range(0, count, 50))
        assert result["redeemed"] == count - rolled_back, result["redeemed"]
        assert result["rolledBack"] == rolled_back
        assert result["ordersAttributed"] == count
        floors = [await floor_seconds(uri, name, project_id, campaign_id) for _ in range(RUNS)]
        segments = await segment_line(uri, name, project_id, customers)
    client: AsyncMongoClient = AsyncMongoClient(uri)
    await client.drop_database(name)
    await client.close()

    ours = statistics.median(t for t, _ in whole)
    floor = statistics.median(floors)
    print(
        f"{count} redemptions ({rolled_back} rolled back) and {count + len(range(0, count, 10))} "
        f"orders over {DAYS} days, seeded in {seeding:.0f} s; figures checked against the seed"
    )
    print(f"{'GraphQL campaignStats, whole life':<52} median {ours:7.2f} s   (runs: {RUNS})")
    print(
        f"{'GraphQL campaignStats, a 7-day window cut mid-hour':<52} "
        f"median {statistics.median(t for t, _ in windowed):7.2f} s"
    )
    print(f"{'bare pymongo: the 3 big pipelines, one pass each':<52} median {floor:7.2f} s")
    print(f"ratio floor / campaignStats: {floor / ours:.2f}")
    print(segments)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--redemptions", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.redemptions, args.customers))


if __name__ == "__main__":
    main()

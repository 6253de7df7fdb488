"""redeemCode over GraphQL with 32 concurrent clients, beside the floor: a bare conditional $inc.

Run: .venv/bin/python -m bench.redeem [--requests 2000] [--concurrency 32]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own,
and a real `engage serve`.
"""

import asyncio
import uuid

import httpx
from pymongo import AsyncMongoClient

from api.database import init_database, make_client
from bench._harness import arguments, database, engage_service, measure, print_comparison
from domain.campaigns import Campaign, Discount, DiscountType, Limits
from domain.codes import Code
from domain.customers import Customer
from domain.projects import Project

CUSTOMERS = 100
LIMIT = 10_000_000
REDEEM = """
mutation ($code: String!, $customerId: ID, $order: OrderInput, $key: String) {
  redeemCode(code: $code, customerId: $customerId, order: $order, idempotencyKey: $key) {
    redemption { id discount { amount } }
    errors { code }
  }
}"""


async def prepare(uri: str, name: str) -> list[str]:
    """A 10% campaign whose code takes millions of uses, and customers; returns their ids."""
    client = make_client(uri)
    await init_database(client, name)
    project = await Project.find_one({"name": "bench"})
    assert project is not None
    campaign = Campaign(
        project_id=project.key,
        name="bench",
        discount=Discount(type=DiscountType.PERCENT, percent_off=10),
        limits=Limits(per_code=LIMIT, per_customer=LIMIT, total=LIMIT),
    )
    await campaign.insert()
    await Code(
        project_id=project.key, code="BENCH10", display="BENCH-10", campaign_id=campaign.key
    ).insert()
    await Customer.insert_many(
        [Customer(project_id=project.key, name=f"c{i}") for i in range(CUSTOMERS)]
    )
    found = await Customer.find({"project_id": project.key}).to_list()
    await client.close()
    return [customer.key for customer in found]


async def redeemed(uri: str, name: str) -> tuple[int, int]:
    """(the code's counter, stored redemptions): both must equal the requests made."""
    client: AsyncMongoClient = AsyncMongoClient(uri)
    code = await client[name]["codes"].find_one({"code": "BENCH10"})
    stored = await client[name]["redemptions"].count_documents({"status": "SUCCEEDED"})
    await client.close()
    assert code is not None
    return int(code["redeemed_count"]), stored


async def run(uri: str, count: int, concurrency: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with engage_service(uri, name) as (base, key):
        customers = await prepare(uri, name)
        run_id = uuid.uuid4().hex[:8]
        limits = httpx.Limits(max_connections=concurrency)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            base_url=base, headers=headers, limits=limits, timeout=60
        ) as http:

            async def redeem(i: int) -> None:
                variables = {
                    "code": "bench-10",
                    "customerId": customers[i % len(customers)],
                    "order": {"id": f"o-{i}", "amount": {"amount": 4_990, "currency": "EUR"}},
                    "key": f"{run_id}-{i}",
                }
                response = await http.post(
                    "/graphql", json={"query": REDEEM, "variables": variables}
                )
                payload = response.json()["data"]["redeemCode"]
                assert payload["errors"] == [], payload

            ours = await measure("GraphQL redeemCode", count, concurrency, redeem)
    assert await redeemed(uri, name) == (count, count)

    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    collection = client[name]["bench_floor"]
    counter = (await collection.insert_one({"redeemed_count": 0})).inserted_id

    async def take(i: int) -> None:
        found = await collection.find_one_and_update(
            {"_id": counter, "redeemed_count": {"$lt": LIMIT}},
            {"$inc": {"redeemed_count": 1}},
            projection={"_id": 1},
        )
        assert found is not None

    floor = await measure("pymongo find_one_and_update", count, concurrency, take)
    await client.drop_database(name)
    await client.close()

    print(
        f"{count} redemptions, {concurrency} concurrent clients, {CUSTOMERS} customers, "
        "an idempotency key and an order on each; counters and stored redemptions checked"
    )
    print_comparison(ours, floor)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.requests, args.concurrency))


if __name__ == "__main__":
    main()

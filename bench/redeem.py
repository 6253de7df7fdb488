"""redeemCode over GraphQL with 32 concurrent clients, beside two floors in bare pymongo.

The one-call floor is a single conditional $inc. The three-call floor is the least a correct
redemption must do: find the code by its value, take it with one conditional $inc that carries
the limit in its filter, and insert the redemption record under a unique idempotency key.

Run: .venv/bin/python -m bench.redeem [--requests 2000] [--concurrency 32] [--rounds 3]
[--workers N]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own,
and a real `engage serve`.
"""

import asyncio
import statistics
import uuid
from collections.abc import Awaitable, Callable

from pymongo import AsyncMongoClient

from api.database import init_database, make_client
from bench._harness import (
    CpuMeter,
    Figures,
    LeanClient,
    arguments,
    client_line,
    database,
    engage_service,
    measure,
    ratio_line,
)
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


async def run(uri: str, count: int, concurrency: int, workers: int, rounds: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    mongo: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    floor_redeem = await three_call_floor(mongo, name)
    rows: list[tuple[Figures, Figures, str, str]] = []
    with engage_service(uri, name, workers) as (base, key):
        customers = await prepare(uri, name)
        run_id = uuid.uuid4().hex[:8]
        headers = {"Authorization": f"Bearer {key}"}
        async with LeanClient(base, headers=headers, connections=concurrency) as http:
            client = client_line(http)

            async def health(i: int) -> None:
                assert (await http.get("/health")).status_code == 200

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

            ceiling = await measure(
                "GET /health (client and HTTP ceiling)", count, concurrency, health
            )
            # Rounds alternate the service and the floor, so that a machine that slows down
            # or speeds up during the run weighs on both sides of each ratio alike.
            for round_number in range(rounds):
                offset = round_number * count
                meter = CpuMeter(base, uri)
                meter.start()
                ours = await measure(
                    "GraphQL redeemCode", count, concurrency, shifted(redeem, offset)
                )
                our_cpu = meter.per_operation(count)
                meter = CpuMeter(None, uri)
                meter.start()
                floor = await measure(
                    "pymongo find + conditional $inc + insert",
                    count,
                    concurrency,
                    shifted(floor_redeem, offset),
                )
                rows.append((ours, floor, our_cpu, meter.per_operation(count)))
    total = count * rounds
    assert await redeemed(uri, name) == (total, total)
    assert await mongo[name]["floor_redemptions"].count_documents({}) == total

    collection = mongo[name]["bench_floor"]
    counter = (await collection.insert_one({"redeemed_count": 0})).inserted_id

    async def take(i: int) -> None:
        found = await collection.find_one_and_update(
            {"_id": counter, "redeemed_count": {"$lt": LIMIT}},
            {"$inc": {"redeemed_count": 1}},
            projection={"_id": 1},
        )
        assert found is not None

    one_call = await measure("pymongo find_one_and_update", count, concurrency, take)
    await mongo.drop_database(name)
    await mongo.close()

    print(
        f"{count} redemptions a round, {rounds} rounds, {concurrency} concurrent clients, "
        f"{CUSTOMERS} customers, an idempotency key and an order on each; counters and stored "
        "redemptions checked"
    )
    print(client)
    print(ceiling.line())
    ratios = []
    for round_number, (ours, floor, our_cpu, floor_cpu) in enumerate(rows, start=1):
        print(f"round {round_number}")
        print(ours.line())
        print(floor.line())
        print(ratio_line(ours, floor))
        print(f"  redeemCode: {our_cpu}")
        print(f"  three-call floor: {floor_cpu}")
        ratios.append(ours.per_second / floor.per_second)
    print(one_call.line())
    print(ratio_line(rows[-1][0], one_call))
    print(
        "ratio redeemCode / three-call floor by round: "
        + ", ".join(f"{ratio:.2f}" for ratio in ratios)
        + f"; median {statistics.median(ratios):.2f}"
    )


def shifted(
    operation: Callable[[int], Awaitable[None]], by: int
) -> Callable[[int], Awaitable[None]]:
    """The operation on numbers `by` higher: each round keeps keys and orders of its own."""

    def at(i: int) -> Awaitable[None]:
        return operation(by + i)

    return at


async def three_call_floor(client: AsyncMongoClient, name: str) -> Callable[[int], Awaitable[None]]:
    """Find the code by value, one conditional $inc with the limit in the filter, insert the
    record: on indexed collections shaped like ours, same database, same concurrency."""
    codes = client[name]["floor_codes"]
    records = client[name]["floor_redemptions"]
    await codes.create_index([("project_id", 1), ("code", 1)], unique=True)
    await records.create_index([("project_id", 1), ("idempotency_key", 1)], unique=True)
    await codes.insert_one({"project_id": "p", "code": "BENCH10", "redeemed_count": 0})

    async def redeem(i: int) -> None:
        code = await codes.find_one({"project_id": "p", "code": "BENCH10"})
        assert code is not None
        taken = await codes.update_one(
            {"_id": code["_id"], "redeemed_count": {"$lt": LIMIT}},
            {"$inc": {"redeemed_count": 1}},
        )
        assert taken.modified_count == 1
        await records.insert_one(
            {
                "project_id": "p",
                "code": "BENCH10",
                "code_id": code["_id"],
                "idempotency_key": f"floor-{i}",
                "order": {"id": f"o-{i}", "amount": {"amount": 4_990, "currency": "EUR"}},
                "status": "SUCCEEDED",
            }
        )

    return redeem


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="engage serve --workers N")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with the floor")
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.requests, args.concurrency, args.workers, args.rounds))


if __name__ == "__main__":
    main()

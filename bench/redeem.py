"""redeemCode over HTTP with 32 concurrent clients, beside the floor: bare conditional $inc.

Run: .venv/bin/python bench/redeem.py [--requests 2000] [--concurrency 32]
Starts its own in-memory embedded database and the real app under uvicorn in a subprocess.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from api.database import init_database, make_client
from api.embedded import EmbeddedDatabase, free_port
from domain.campaigns import Campaign, Discount, DiscountType, Limits
from domain.codes import Code
from domain.customers import Customer
from domain.projects import create_project

CUSTOMERS = 100
REDEEM = """
mutation ($code: String!, $customerId: ID, $order: OrderInput, $key: String) {
  redeemCode(code: $code, customerId: $customerId, order: $order, idempotencyKey: $key) {
    redemption { id discount { amount } }
    errors { code }
  }
}"""
SERVE = """
import uvicorn
from api.app import create_app
from api.settings import Settings
uvicorn.run(create_app(Settings()), host="127.0.0.1", port={port}, log_level="warning")
"""


@dataclass
class Figures:
    label: str
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return (
            f"{self.label:<36} {self.per_second:>8.0f}/s   p50 {p50:>7.1f} ms   p99 {p99:>7.1f} ms"
        )


async def measure(
    label: str, count: int, concurrency: int, operation: Callable[[int, int], Awaitable[None]]
) -> Figures:
    """Runs operation(worker, i) for i in range(count) across `concurrency` workers."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker(number: int) -> None:
        for i in queue:
            started = time.perf_counter()
            await operation(number, i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return Figures(label, time.perf_counter() - started, latencies)


async def prepare(uri: str, database: str) -> tuple[str, list[str]]:
    """A project, a 10% campaign with a code good for millions of uses, and customers."""
    client = make_client(uri)
    await init_database(client, database)
    project, issued = await create_project("bench")
    campaign = Campaign(
        project_id=project.key,
        name="bench",
        discount=Discount(type=DiscountType.PERCENT, percent_off=10),
        limits=Limits(per_code=10_000_000, per_customer=1_000_000, total=10_000_000),
    )
    await campaign.insert()
    await Code(
        project_id=project.key, code="BENCH10", display="BENCH-10", campaign_id=campaign.key
    ).insert()
    customers = [Customer(project_id=project.key, name=f"c{i}") for i in range(CUSTOMERS)]
    await Customer.insert_many(customers)
    found = await Customer.find({"project_id": project.key}).to_list()
    await client.close()
    return issued.secret, [c.key for c in found]


def start_app(uri: str, database: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "ENGAGE_MONGODB_URI": uri,
        "ENGAGE_DATABASE": database,
        "ENGAGE_DEMO_PROJECT": "false",
        "ENGAGE_RUN_JOBS": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(port=port)], env=env, stdin=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
        time.sleep(0.2)


async def redeem_over_http(
    base: str, key: str, customers: list[str], count: int, concurrency: int
) -> Figures:
    headers = {"Authorization": f"Bearer {key}"}
    clients = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=60) for _ in range(concurrency)
    ]
    run = uuid.uuid4().hex[:8]

    async def redeem(worker: int, i: int) -> None:
        variables = {
            "code": "bench-10",
            "customerId": customers[i % len(customers)],
            "order": {"id": f"o-{i}", "amount": {"amount": 4_990, "currency": "EUR"}},
            "key": f"{run}-{i}",
        }
        response = await clients[worker].post(
            "/graphql", json={"query": REDEEM, "variables": variables}
        )
        payload = response.json()["data"]["redeemCode"]
        assert payload["errors"] == [], payload

    try:
        return await measure("GraphQL redeemCode (HTTP)", count, concurrency, redeem)
    finally:
        for client in clients:
            await client.aclose()


async def floor(uri: str, database: str, count: int, concurrency: int) -> Figures:
    """The least a limited redemption can cost: one conditional $inc of the same counter."""
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    collection = client[database]["bench_floor"]
    counter = (await collection.insert_one({"redeemed_count": 0})).inserted_id

    async def take(worker: int, i: int) -> None:
        found = await collection.find_one_and_update(
            {"_id": counter, "redeemed_count": {"$lt": 10_000_000}},
            {"$inc": {"redeemed_count": 1}},
            projection={"_id": 1},
        )
        assert found is not None

    try:
        return await measure("pymongo find_one_and_update", count, concurrency, take)
    finally:
        await client.close()


async def check(uri: str, database: str, count: int) -> None:
    """The benchmark must have redeemed exactly once per request."""
    client = make_client(uri)
    await init_database(client, database)
    code = await Code.find_one({"code": "BENCH10"})
    redeemed = await client[database]["redemptions"].count_documents({"status": "SUCCEEDED"})
    await client.close()
    assert code is not None and code.redeemed_count == count == redeemed, (code, redeemed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as run_dir:
        server = EmbeddedDatabase(Path(run_dir), data_dir=None)
        uri = server.start()
        database = f"bench_{uuid.uuid4().hex[:8]}"
        app = None
        try:
            key, customers = asyncio.run(prepare(uri, database))
            app, base = start_app(uri, database)
            ours = asyncio.run(
                redeem_over_http(base, key, customers, args.requests, args.concurrency)
            )
            app.terminate()
            app.wait(timeout=30)
            app = None
            asyncio.run(check(uri, database, args.requests))
            bare = asyncio.run(floor(uri, database, args.requests, args.concurrency))
        finally:
            if app is not None:
                app.kill()
            server.stop()
    print(
        f"{args.requests} requests, {args.concurrency} concurrent clients, "
        f"{CUSTOMERS} customers, idempotency key and order on every redemption"
    )
    print(ours.line())
    print(bare.line())
    print(f"ratio redeemCode / floor: {ours.per_second / bare.per_second:.2f}")


if __name__ == "__main__":
    main()

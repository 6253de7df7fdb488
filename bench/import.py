"""Imports order history through importOrders' job, beside a bare insert_many floor.

Run: .venv/bin/python -m bench.import [--count 100000] [--customers 5000]
Uses ENGAGE_MONGODB_URI (or --mongodb-uri) when set, else starts an in-memory embedded server.
The job reads a JSON lines file of `count` orders spread over `customers` customers, checks
every row, stores the orders and moves the customers' metrics. The floor inserts the same order
documents, in batches of the same size, into another collection with the same indexes.
"""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import IndexModel

from api.database import init_database, make_client
from bench._harness import arguments, database
from domain.customers import Customer
from domain.imports import BATCH_SIZE, counts_of, import_customers, import_orders
from domain.jobs import Job, JobRunner, JobStatus
from domain.orders import Order
from domain.projects import create_project

START = datetime(2020, 1, 1, tzinfo=UTC)


def customers_file(customers: int) -> bytes:
    rows = (
        {"sourceId": f"c-{n}", "email": f"c{n}@example.com", "createdAt": START.isoformat()}
        for n in range(customers)
    )
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def order_rows(count: int, customers: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"o-{n}",
            "customerSourceId": f"c-{n % customers}",
            "amount": 1000 + n % 5000,
            "currency": "EUR",
            "createdAt": (START + timedelta(minutes=n)).isoformat(),
            "items": [{"sku": f"sku-{n % 40}", "quantity": 1 + n % 3, "price": 500}],
        }
        for n in range(count)
    ]


def orders_file(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


async def run_job(job: Job) -> Job:
    await JobRunner().run_pending()
    finished = await Job.get(job.id)
    assert finished is not None and finished.status == JobStatus.SUCCEEDED, finished
    return finished


async def through_the_job(project_id: str, data: bytes) -> tuple[float, Job]:
    started = time.perf_counter()
    job = await import_orders(project_id, data, max_bytes=len(data))
    finished = await run_job(job)
    return time.perf_counter() - started, finished


async def bare_insert_many(client: Any, name: str, project_id: str, count: int) -> float:
    """The same order documents the job stores, inserted in batches of its size."""
    collection = client[name]["bench_orders"]
    indexes: list[IndexModel] = Order.Settings.indexes
    await collection.create_indexes(indexes)
    documents = (
        await Order.get_pymongo_collection().find({"project_id": project_id}, {"_id": 0}).to_list()
    )
    assert len(documents) == count
    started = time.perf_counter()
    for start in range(0, count, BATCH_SIZE):
        await collection.insert_many(documents[start : start + BATCH_SIZE], ordered=False)
    return time.perf_counter() - started


async def run(uri: str, count: int, customers: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    client = make_client(uri)
    try:
        await init_database(client, name)
        project, _ = await create_project("bench")
        people = customers_file(customers)
        await run_job(await import_customers(project.key, people, max_bytes=len(people)))
        rows = order_rows(count, customers)
        seconds, job = await through_the_job(project.key, orders_file(rows))
        assert counts_of(job).imported == count, counts_of(job)
        first = await Customer.find_one({"project_id": project.key, "source_id": "c-0"})
        assert first is not None and first.metrics.orders_count == len(range(0, count, customers))
        floor = await bare_insert_many(client, name, project.key, count)
        print(f"{count:,} orders for {customers:,} customers, batches of {BATCH_SIZE:,}")
        print(f"importOrders job (parse, check, store, metrics) {count / seconds:>9.0f} rows/s")
        print(f"bare insert_many of the same documents          {count / floor:>9.0f} rows/s")
        print(f"ratio job / floor: {floor / seconds:.2f}")
        await client.drop_database(name)
    finally:
        await client.close()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.count, args.customers))


if __name__ == "__main__":
    main()

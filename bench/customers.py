"""Creates and reads customers through GraphQL with 32 clients, beside bare pymongo."""

import asyncio
import uuid

from pymongo import AsyncMongoClient

from bench._harness import (
    LeanClient,
    arguments,
    client_line,
    database,
    engage_service,
    measure,
    ratio_line,
)

CREATE = """mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } } }"""
READ = "query ($id: ID) { customer(id: $id) { id email } }"


async def run(uri: str, count: int, concurrency: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with engage_service(uri, name) as (base, key):
        headers = {"Authorization": f"Bearer {key}"}
        async with LeanClient(base, headers=headers, connections=concurrency) as http:
            print(client_line(http))
            ids: list[str] = [""] * count

            async def create(i: int) -> None:
                variables = {"input": {"sourceId": f"c-{i}", "email": f"c{i}@example.com"}}
                response = await http.post(
                    "/graphql", json={"query": CREATE, "variables": variables}
                )
                payload = response.json()["data"]["createCustomer"]
                assert not payload["errors"], payload
                ids[i] = payload["customer"]["id"]

            async def read(i: int) -> None:
                response = await http.post(
                    "/graphql", json={"query": READ, "variables": {"id": ids[i]}}
                )
                assert response.json()["data"]["customer"]["id"] == ids[i]

            created = await measure("GraphQL createCustomer", count, concurrency, create)
            fetched = await measure("GraphQL customer(id)", count, concurrency, read)

    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    collection = client[name]["bench_customers"]
    await collection.create_index([("project_id", 1), ("source_id", 1)], unique=True)
    raw_ids: list[object] = [None] * count

    async def insert(i: int) -> None:
        doc = {"project_id": "p", "source_id": f"c-{i}", "email": f"c{i}@example.com"}
        raw_ids[i] = (await collection.insert_one(doc)).inserted_id

    async def find(i: int) -> None:
        assert await collection.find_one({"_id": raw_ids[i], "project_id": "p"}) is not None

    inserted = await measure("pymongo insert_one", count, concurrency, insert)
    found = await measure("pymongo find_one", count, concurrency, find)
    await client.drop_database(name)
    await client.close()

    print(f"{count} operations each, {concurrency} concurrent clients, same database")
    for figures in (created, inserted, fetched, found):
        print(figures.line())
    print(ratio_line(created, inserted))
    print(ratio_line(fetched, found))


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.count, args.concurrency))


if __name__ == "__main__":
    main()

"""Exports a campaign's codes as the console's CSV download does, and shows that memory stays flat.

Run: .venv/bin/python -m bench.export_codes [--count 1000000]
Uses ENGAGE_MONGODB_URI (or --mongodb-uri) when set, else starts an in-memory embedded server.
The codes are stored with bare insert_many first (not timed). The export is read to the end as a
client would download it, once under tracemalloc and once without, beside a bare cursor read
of the same documents (the floor). tracemalloc's peak is taken after a tenth of the rows and at
the end: a stream holds one batch at a time, so both peaks are about the same whatever the
count.
"""

import asyncio
import time
import tracemalloc
import uuid

from api.database import init_database, make_client
from bench._harness import arguments, database, shop_with_campaign
from domain.code_listing import EXPORT_BATCH, ExportLinks, export_codes_csv
from domain.codes import Code

INSERT_BATCH = 5_000


async def store_codes(project_id: str, campaign_id: str, count: int) -> None:
    template = Code(project_id=project_id, code="-", display="-", campaign_id=campaign_id)
    fields = template.model_dump(exclude={"id", "revision_id"})
    collection = Code.get_pymongo_collection()
    for start in range(0, count, INSERT_BATCH):
        await collection.insert_many(
            [
                {**fields, "code": f"BENCH{n:08d}", "display": f"BENCH-{n:08d}"}
                for n in range(start, min(count, start + INSERT_BATCH))
            ]
        )


async def run(uri: str, count: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    client = make_client(uri)
    await init_database(client, name)
    try:
        project, campaign = await shop_with_campaign()
        await store_codes(project.key, campaign.key, count)
        links = ExportLinks(base_url="https://shop.example", secret_key="k" * 32)
        tracemalloc.start()
        rows = size = 0
        early_peak = 0
        started = time.perf_counter()
        async for chunk in export_codes_csv(campaign=campaign, export=links, with_email=True):
            rows += chunk.count("\r\n")
            size += len(chunk.encode())
            if not early_peak and rows >= count // 10:
                early_peak = tracemalloc.get_traced_memory()[1]
        seconds = time.perf_counter() - started
        final_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert rows == count + 1, rows
        # The floor: the same documents read with a bare cursor, nothing written.
        started = time.perf_counter()
        cursor = (
            Code.get_pymongo_collection()
            .find({"project_id": project.key, "campaign_id": campaign.key})
            .sort("_id", 1)
        )
        bare = len([doc async for doc in cursor.batch_size(EXPORT_BATCH)])
        floor = time.perf_counter() - started
        # The export again, without tracemalloc (which slows every allocation down).
        started = time.perf_counter()
        async for _chunk in export_codes_csv(campaign=campaign, export=links, with_email=True):
            pass
        untraced = time.perf_counter() - started
        mib = 1024 * 1024
        print(f"{count:,} codes in batches of {EXPORT_BATCH:,}: {size / mib:,.1f} MiB of CSV")
        print(f"export {seconds:,.1f} s, {count / seconds:,.0f} rows/s (with tracemalloc on)")
        print(f"export without tracemalloc {untraced:,.1f} s, {count / untraced:,.0f} rows/s")
        print(f"bare cursor read of the same codes {floor:,.1f} s, {bare / floor:,.0f} docs/s")
        print(
            f"peak Python memory after a tenth of the rows {early_peak / mib:,.1f} MiB, "
            f"at the end {final_peak / mib:,.1f} MiB"
        )
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.count))


if __name__ == "__main__":
    main()

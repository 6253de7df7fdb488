"""Generates codes through generate_codes and the job runner, beside a bare insert_many floor.

Run: .venv/bin/python -m bench.generate [--count 1000000]
Uses ENGAGE_MONGODB_URI (or --mongodb-uri) when set, else starts an in-memory embedded server.
The floor inserts the same number of equivalent documents (same fields, random codes, the same
indexes, batches of the same size) into another collection of the same database.
"""

import asyncio
import sys
import time
import uuid
from typing import Any

from pymongo import IndexModel
from pymongo.errors import BulkWriteError

from api.database import init_database, make_client
from bench._harness import arguments, database
from domain.campaigns import Campaign, Discount, DiscountType
from domain.codegen import new_codes
from domain.codes import Code, normalize_code
from domain.jobs import BATCH_SIZE, Job, JobRunner, JobStatus, generate_codes
from domain.projects import create_project


async def report_progress(job: Job, every: float = 10.0) -> None:
    """Prints the job's progress to stderr while it runs."""
    while True:
        await asyncio.sleep(every)
        current = await Job.get(job.id)
        if current is not None:
            print(f"  ... {current.done:,} of {current.total:,}", file=sys.stderr, flush=True)


async def through_the_job(project_id: str, campaign: Campaign, count: int) -> float:
    started = time.perf_counter()
    job = await generate_codes(project_id, campaign.key, count)
    progress = asyncio.create_task(report_progress(job))
    try:
        await JobRunner().run_pending()
    finally:
        progress.cancel()
    seconds = time.perf_counter() - started
    finished = await Job.get(job.id)
    assert finished is not None and finished.status == JobStatus.SUCCEEDED, finished
    assert finished.done == count, finished.done
    return seconds


async def bare_insert_many(
    client: Any, name: str, project_id: str, campaign: Campaign, count: int
) -> float:
    collection = client[name]["bench_codes"]
    indexes: list[IndexModel] = Code.Settings.indexes
    await collection.create_indexes(indexes)
    template = Code(
        project_id=project_id, code="-", display="-", campaign_id=campaign.key, job_id="bench"
    ).model_dump(exclude={"id", "revision_id"})
    started = time.perf_counter()
    made = 0
    batch = 0
    while made < count:
        size = min(BATCH_SIZE, count - made)
        documents = [
            {**template, "code": normalize_code(display), "display": display, "batch": batch}
            for display in new_codes(campaign.codes, size)
        ]
        try:
            made += len((await collection.insert_many(documents, ordered=False)).inserted_ids)
        except BulkWriteError as error:
            # A random code can repeat one made before; the next round makes up for it.
            made += int(error.details["nInserted"])
        batch += 1
    return time.perf_counter() - started


async def count_codes(project_id: str, campaign: Campaign) -> int:
    rows = await (
        await Code.get_pymongo_collection().aggregate(
            [{"$match": {"project_id": project_id, "campaign_id": campaign.key}}, {"$count": "n"}]
        )
    ).to_list()
    return int(rows[0]["n"]) if rows else 0


def line(label: str, count: int, seconds: float) -> str:
    return f"{label:<40} {count / seconds:>9.0f} codes/s   {seconds:>7.1f} s"


async def run(uri: str, count: int, verify: bool) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    client = make_client(uri)
    await init_database(client, name)
    try:
        project, _ = await create_project("bench")
        campaign = Campaign(
            project_id=project.key,
            name="bench",
            discount=Discount(type=DiscountType.PERCENT, percent_off=10),
        )
        await campaign.insert()
        ours = await through_the_job(project.key, campaign, count)
        floor = await bare_insert_many(client, name, project.key, campaign, count)

        print(f"{count:,} codes, batches of {BATCH_SIZE:,}, same database")
        print(line("generate_codes + JobRunner", count, ours))
        print(line("bare insert_many, same docs + indexes", count, floor))
        print(f"ratio job / insert_many: {floor / ours:.2f}")
        if verify:
            stored = await count_codes(project.key, campaign)
            fresh = await Campaign.get(campaign.id)
            assert fresh is not None
            print(f"stored codes {stored:,}, campaign codesCount {fresh.codes_count:,}")
            assert stored == count == fresh.codes_count
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument(
        "--no-verify", action="store_true", help="skip counting the stored codes afterwards"
    )
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.count, not args.no_verify))


if __name__ == "__main__":
    main()

"""Distribution: distributeCampaign's job beside the bare writes it has to make.

Run: .venv/bin/python -m bench.distribution [--customers 100000]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own.

1. Ours: a distributeCampaign job, run by the same JobRunner `engage serve` runs, gives every
   customer a freshly generated code of the campaign and queues a rendered coupon email and SMS
   carrying it (claims, codes, consent and suppression checks, render, outbox insert), in
   batches of 200 with the job's cursor and counts saved after each; a batch's claims, codes
   and messages each go in one bulk write.
2. The floors: for the same number of customers, one code document and two message documents
   inserted with pymongo: one insert_one each, 16 customers at a time (the writes a
   distribution cannot avoid, one by one); and one insert_many of the codes and one of the
   messages per 200 customers (the least a batched distribution can do).
Afterwards it checks that every customer holds exactly one code and one message per channel.
"""

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

from bson import ObjectId

from api.database import init_database, make_client
from bench._harness import arguments, database, shop_with_campaign
from delivery.distribution import distribute_campaign, job_handlers
from delivery.outbox import Links
from domain.campaigns import Campaign
from domain.codes import Code
from domain.common import utc_now
from domain.customers import Consents, Customer
from domain.jobs import Job, JobStatus, run_pending_jobs
from domain.messages import Message, MessageChannel

CONCURRENCY = 16
# Customers per batch, as distributeCampaign's jobs have them.
BATCH = 200
CHANNELS = [MessageChannel.EMAIL, MessageChannel.SMS]
LINKS = Links(base_url="http://127.0.0.1:8000", secret_key="bench-secret-key")


async def seed(project_id: str, count: int) -> None:
    for start in range(0, count, 5_000):
        chunk = [
            Customer(
                project_id=project_id,
                name=f"Customer {i}",
                email=f"c{i}@example.com",
                phone=f"+336{i:08d}",
                consents=Consents(email=True, sms=True),
            )
            for i in range(start, min(count, start + 5_000))
        ]
        await Customer.insert_many(chunk)


async def distribute(project_id: str, campaign: Campaign, count: int) -> float:
    job = await distribute_campaign(
        project_id=project_id, campaign_id=campaign.key, channels=CHANNELS
    )
    assert job.total == count, (job.total, count)
    started = time.perf_counter()
    assert await run_pending_jobs(handlers=job_handlers(links=LINKS)) == 1
    elapsed = time.perf_counter() - started
    done = await Job.get(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done
    assert done.params["published"] == count and done.params["queued"] == 2 * count, done.params
    return elapsed


async def check(project_id: str, campaign: Campaign, count: int) -> None:
    codes = await Code.get_pymongo_collection().distinct(
        "customer_id", {"project_id": project_id, "campaign_id": campaign.key}
    )
    assert len(codes) == count, len(codes)
    assert await Code.find({"project_id": project_id}).count() == count
    per_customer: Counter[tuple[str, str]] = Counter()
    cursor = Message.get_pymongo_collection().find(
        {"project_id": project_id}, {"customer_id": 1, "channel": 1}
    )
    async for message in cursor:
        per_customer[(message["customer_id"], message["channel"])] += 1
    assert len(per_customer) == 2 * count and set(per_customer.values()) == {1}


def floor_documents(project_id: str, i: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One customer's code and messages as the floors write them."""
    customer_id = str(ObjectId())
    code = f"FLOOR{i:09d}"
    code_document = {
        "project_id": project_id,
        "code": code,
        "display": code,
        "campaign_id": "floor",
        "customer_id": customer_id,
        "assigned": True,
        "published_at": utc_now(),
    }
    messages = [
        {
            "project_id": project_id,
            "channel": channel.value,
            "customer_id": customer_id,
            "to": f"c{i}@example.com",
            "code": code,
            "status": "QUEUED",
            "body_text": f"Your code {code}",
            "idempotency_key": f"floor:{customer_id}:{channel.value}",
            "due_at": utc_now(),
        }
        for channel in CHANNELS
    ]
    return code_document, messages


async def floor(count: int) -> float:
    """The same number of code and message documents, one insert_one each, 16 at a time."""
    codes = Code.get_pymongo_collection()
    messages = Message.get_pymongo_collection()
    project_id = f"floor-{uuid.uuid4().hex[:8]}"
    waiting = iter(range(count))

    async def work() -> None:
        for i in waiting:
            code_document, message_documents = floor_documents(project_id, i)
            await codes.insert_one(code_document)
            for document in message_documents:
                await messages.insert_one(document)

    started = time.perf_counter()
    await asyncio.gather(*(work() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def batched_floor(count: int) -> float:
    """The same documents, one insert_many of codes and one of messages per BATCH customers."""
    codes = Code.get_pymongo_collection()
    messages = Message.get_pymongo_collection()
    project_id = f"batched-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        made = [floor_documents(project_id, i) for i in range(start, min(count, start + BATCH))]
        await codes.insert_many([code for code, _ in made], ordered=False)
        await messages.insert_many([m for _, pair in made for m in pair], ordered=False)
    return time.perf_counter() - started


async def run(uri: str, count: int) -> None:
    client = make_client(uri)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    await init_database(client, name)
    try:
        project, campaign = await shop_with_campaign()
        await seed(project.key, count)
        ours = await distribute(project.key, campaign, count)
        await check(project.key, campaign, count)
        bare = await floor(count)
        batched = await batched_floor(count)
    finally:
        await client.drop_database(name)
        await client.close()
    print(f"customers: {count:,}, channels: email and SMS, batches of {BATCH}")
    for label, seconds in (
        ("distributeCampaign job (code + 2 messages each)", ours),
        (f"pymongo insert_one of 1 code + 2 messages each, {CONCURRENCY} at once", bare),
        (f"pymongo insert_many of codes, of messages, per {BATCH}", batched),
    ):
        print(f"{label:<68} {seconds:>8.1f} s   {count / seconds:>7.0f} customers/s")
    print(f"ratio distributeCampaign / insert_one floor: {bare / ours:.2f}")
    print(f"ratio distributeCampaign / insert_many floor: {batched / ours:.2f}")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.customers))


if __name__ == "__main__":
    main()

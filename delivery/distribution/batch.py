"""Running one batch of a distribution; a batch redone after a crash gives nothing twice."""

from datetime import datetime
from typing import Any

from delivery.distribution.filters import aware
from delivery.distribution.progress import COUNTS, DistributionCounts
from delivery.distribution.reach import Batch, reach_all
from delivery.outbox import Links
from domain.campaigns import Campaign, get_campaign
from domain.codes import Code, check_gives_codes
from domain.common import utc_now
from domain.customers import Customer
from domain.errors import DomainError
from domain.jobs import Job, JobFailed, JobRunner, LeaseLost
from domain.messages import Message, MessageChannel
from domain.projects import get_project


async def _codes_given_earlier(
    job: Job, campaign: Campaign, started_at: datetime, customer_ids: list[str]
) -> dict[str, Code]:
    """The codes earlier attempts of this batch gave its customers, so that a campaign giving
    several codes per customer does not give one more on resumption: the codes its messages
    carry, else those published to them since the batch began. One query each per batch:
    the embedded server scans for these."""
    sent = await Message.find(
        {"project_id": job.project_id, "job_id": job.key, "customer_id": {"$in": customer_ids}}
    ).to_list()
    carried = {message.code for message in sent if message.code}
    found = await Code.find(
        {
            "project_id": job.project_id,
            "campaign_id": campaign.key,
            "customer_id": {"$in": customer_ids},
            "published_at": {"$gte": started_at},
        }
    ).to_list()
    if carried:
        found += await Code.find(
            {"project_id": job.project_id, "code": {"$in": sorted(carried)}}
        ).to_list()
    given: dict[str, Code] = {}
    for code in found:
        if code.customer_id and (code.customer_id not in given or code.code in carried):
            given[code.customer_id] = code
    return given


async def _begin_batch(runner: JobRunner, job: Job) -> tuple[bool, datetime]:
    resumed = job.started_batch >= job.batch
    started = aware(moment=job.params.get("batch_started_at"))
    if resumed and started is not None:
        await runner.renew(job)
        return True, started
    started = utc_now()
    await runner.renew(job, started_batch=job.batch, **{"params.batch_started_at": started})
    job.started_batch = job.batch
    job.params["batch_started_at"] = started
    return False, started


async def _commit_batch(batch: Batch, last_id: Any, customers: int) -> None:
    """Moves the cursor and adds the batch's counts in one write, once per batch."""
    job, runner = batch.job, batch.runner
    totals = DistributionCounts.of(job)
    totals.add(batch.counts)
    now = utc_now()
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job.id, "lease_owner": runner.owner, "batch": job.batch},
        {
            "$set": {
                "batch": job.batch + 1,
                "done": job.done + customers,
                "params.after": str(last_id),
                **{f"params.{name}": getattr(totals, name) for name in COUNTS},
                "lease_until": now + runner.lease,
                "updated_at": now,
            }
        },
    )
    if result.matched_count == 0:
        raise LeaseLost(job.key)
    job.batch += 1
    job.done += customers
    job.params["after"] = str(last_id)
    job.params.update({name: getattr(totals, name) for name in COUNTS})


async def _current_campaign(job: Job) -> Campaign:
    try:
        campaign = await get_campaign(job.project_id, str(job.params["campaign_id"]))
        check_gives_codes(campaign)
    except DomainError as error:
        raise JobFailed(_stopped(job, error)) from None
    return campaign


def _stopped(job: Job, error: DomainError) -> str:
    message = "the campaign was deleted" if error.code == "NOT_FOUND" else str(error)
    return f"stopped after {job.done:,} of {job.total:,} customers: {message}"


async def run_batch(*, runner: JobRunner, job: Job, ids: list[Any], links: Links) -> None:
    """Reaches the customers with these ids (the next ones after the job's cursor), then moves
    the cursor past them. A batch redone after a crash finds its codes and messages again."""
    campaign = await _current_campaign(job)
    resumed, started_at = await _begin_batch(runner, job)
    template = str(job.params.get("template_ref") or "") or None
    batch = Batch(
        runner=runner,
        job=job,
        links=links,
        project=await get_project(job.project_id),
        campaign=campaign,
        channels=[MessageChannel(value) for value in job.params["channels"]],
        template_ref=template,
        resumed=resumed,
        given={},
    )
    # All in the server's first reply, one more than can match so that it closes the cursor
    # (no getMore).
    customers = (
        await Customer.find(
            {"_id": {"$in": ids}, "project_id": job.project_id}, batch_size=len(ids) + 1
        )
        .sort("_id")
        .to_list()
    )
    if resumed and campaign.codes_per_customer > 1 and not campaign.standalone_code:
        keys = [customer.key for customer in customers]
        batch.given = await _codes_given_earlier(job, campaign, started_at, keys)
    # Customers erased since the ids were read are not reached.
    present = [customer for customer in customers if not customer.erased]
    await reach_all(batch=batch, customers=present)
    if batch.failure is not None:
        # Keep what was done, counted, so the job tells the truth about it.
        await _commit_batch(batch, ids[-1], len(ids) - len(present) + batch.finished)
        raise JobFailed(_stopped(job, batch.failure))
    await _commit_batch(batch, ids[-1], len(ids))

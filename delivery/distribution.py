"""Distributing a campaign: a code and a message per channel for every matching customer, in a
background job that resumes after a crash without publishing or queueing anything twice."""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from delivery.outbox import Links, queue_message
from delivery.rendering import resolve_template
from domain import experiments
from domain.campaigns import Campaign, get_campaign
from domain.codes import Code, check_gives_codes, publish_code
from domain.common import utc_now
from domain.customers import Customer, contact_address, normalize_email
from domain.errors import DomainError, NotFound, Problem
from domain.jobs import Handler, Job, JobFailed, JobRunner, LeaseLost, get_job
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import Project, get_project
from domain.segments import (
    Segment,
    SegmentKind,
    get_segment,
    match_query,
    segment_customer_ids,
)

DISTRIBUTE_CAMPAIGN = "distribute_campaign"
DISTRIBUTION_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)
# Customers handled between two writes of the job's cursor: a crash redoes at most this many.
BATCH_SIZE = 200
# Customers worked on at once within a batch.
CONCURRENCY = 16
# Customer ids read per query: the embedded server scans the collection for any range query,
# so the walk reads many ids at a time and fetches each batch's documents by id.
ID_CHUNK = 10_000
# A customer's own state, not the campaign's: the customer is skipped and the job goes on.
SKIPPED_CODES = frozenset({"ERASED", "NO_ADDRESS"})
COUNTS = ("published", "queued", "suppressed", "skipped")


@dataclass(frozen=True)
class DistributionFilter:
    """Which customers a distribution reaches; erased customers never are."""

    # Customers having every one of these tags.
    tags: tuple[str, ...] = ()
    email: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # Only customers who consented to at least one of the distribution's channels; otherwise
    # those who did not get a SUPPRESSED message, recorded but never sent.
    consented: bool = False

    def to_params(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "email": self.email or "",
            "created_after": self.created_after,
            "created_before": self.created_before,
            "consented": self.consented,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "DistributionFilter":
        return cls(
            tags=tuple(params.get("tags") or ()),
            email=params.get("email") or None,
            created_after=_aware(params.get("created_after")),
            created_before=_aware(params.get("created_before")),
            consented=bool(params.get("consented")),
        )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _checked_filter(where: DistributionFilter) -> DistributionFilter:
    problems: list[Problem] = []
    tags = tuple(sorted({tag.strip().lower() for tag in where.tags if tag.strip()}))
    email = where.email
    if email is not None and email.strip():
        try:
            email = normalize_email(email)
        except DomainError as error:
            problems.extend(Problem(p.code, p.message, "filter.email") for p in error.problems)
    else:
        email = None
    after, before = _aware(where.created_after), _aware(where.created_before)
    if after is not None and before is not None and after >= before:
        problems.append(
            Problem("INVALID", "createdAfter must be before createdBefore", "filter.createdAfter")
        )
    if problems:
        raise DomainError.of(problems)
    return DistributionFilter(
        tags=tags,
        email=email,
        created_after=after,
        created_before=before,
        consented=where.consented,
    )


def _checked_channels(channels: Sequence[MessageChannel]) -> list[MessageChannel]:
    distinct = list(dict.fromkeys(channels))
    if (
        not 1 <= len(channels) <= len(DISTRIBUTION_CHANNELS)
        or len(distinct) != len(channels)
        or any(channel not in DISTRIBUTION_CHANNELS for channel in distinct)
    ):
        raise DomainError("INVALID_CHANNELS", "give EMAIL, SMS or both, each once", "channels")
    return distinct


def _audience_match(
    project_id: str, where: DistributionFilter, channels: Sequence[MessageChannel]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The customers' query, and the consent condition apart: the embedded server drops the
    other conditions of a $match that also holds an $or."""
    query: dict[str, Any] = {"project_id": project_id, "erased": False}
    if where.email:
        query["email"] = where.email
    if where.tags:
        # $all: equality on an indexed array field finds nothing on the embedded server.
        query["tags"] = {"$all": list(where.tags)}
    created: dict[str, datetime] = {}
    if where.created_after:
        created["$gte"] = where.created_after
    if where.created_before:
        created["$lt"] = where.created_before
    if created:
        query["created_at"] = created
    if not where.consented:
        return query, None
    granted = [{f"consents.{channel.value.lower()}": True} for channel in channels]
    return query, granted[0] if len(granted) == 1 else {"$or": granted}


async def _count(query: dict[str, Any], consent: dict[str, Any] | None) -> int:
    # An aggregate $count on the indexed part first: count_documents scans on the embedded server.
    stages: list[dict[str, Any]] = [{"$match": query}]
    if consent is not None:
        stages.append({"$match": consent})
    cursor = await Customer.get_pymongo_collection().aggregate([*stages, {"$count": "n"}])
    rows = await cursor.to_list()
    return int(rows[0]["n"]) if rows else 0


async def distribute_campaign(
    project_id: str,
    campaign_id: str,
    channels: Sequence[MessageChannel],
    where: DistributionFilter | None = None,
    template_ref: str | None = None,
    *,
    segment_id: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Job:
    """Checks the request (writing nothing when it is refused) and queues a job giving each
    matching customer (of the segment, when one is given) a code of the campaign and a
    message by each channel."""
    campaign = await get_campaign(project_id, campaign_id)
    segment = (
        await get_segment(project_id=project_id, segment_id=segment_id, field="segmentId")
        if segment_id
        else None
    )
    check_gives_codes(campaign)
    chosen = _checked_channels(channels)
    audience = _checked_filter(where or DistributionFilter())
    template = (template_ref or "").strip() or None
    if template is not None:
        # A built-in exists for both channels; a stored template serves its own channel only.
        for channel in chosen:
            await resolve_template(project_id, template, channel)
    query, consent = _audience_match(project_id, audience, chosen)
    # Relative times in a dynamic segment's filter ("no order for 90 days") are read at the
    # request, so a resumed job reaches the same customers.
    segment_now = utc_now()
    if segment is None:
        total = await _count(query, consent)
    elif segment.kind == SegmentKind.STATIC:
        # An upper bound; the job ends with the number it really reached.
        total = segment.members_count
    else:
        total = await Customer.get_pymongo_collection().count_documents(
            _with(query, consent, match_query(segment=segment, now=segment_now))
        )
    # Customers made after the count are left out: the job's id bounds the walk.
    job_id = ObjectId()
    job = Job(
        id=job_id,
        project_id=project_id,
        kind=DISTRIBUTE_CAMPAIGN,
        params={
            "campaign_id": campaign.key,
            "channels": [channel.value for channel in chosen],
            "template_ref": template or "",
            "filter": audience.to_params(),
            "segment_id": segment.key if segment else "",
            "segment_now": segment_now,
            # The last customer id of the last finished batch.
            "after": "",
            "batch_started_at": None,
            **dict.fromkeys(COUNTS, 0),
        },
        total=total,
        batch_size=max(1, batch_size),
    )
    await job.insert()
    return job


@dataclass
class DistributionCounts:
    published: int = 0
    queued: int = 0
    suppressed: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, job: Job) -> "DistributionCounts":
        return cls(**{name: int(job.params.get(name, 0)) for name in COUNTS})

    def add(self, other: "DistributionCounts") -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def get_distribution(project_id: str, job_id: str) -> Job:
    job = await get_job(project_id, job_id)
    if job.kind != DISTRIBUTE_CAMPAIGN:
        raise NotFound("distribution")
    return job


def idempotency_key(job_id: str, customer_id: str, channel: MessageChannel) -> str:
    return f"distribution:{job_id}:{customer_id}:{channel.value}"


@dataclass
class _Batch:
    """What the customers of one batch share."""

    runner: JobRunner
    job: Job
    links: Links
    project: Project
    campaign: Campaign
    channels: list[MessageChannel]
    template_ref: str | None
    # Whether an earlier attempt of this batch was cut short.
    resumed: bool
    # Codes an earlier attempt of a resumed batch gave, by customer id.
    given: dict[str, Code]
    # Without template_ref: the template of each (experiment, variant, channel), "" for none.
    variant_templates: dict[tuple[str, str, MessageChannel], str] = field(default_factory=dict)
    counts: DistributionCounts = field(default_factory=DistributionCounts)
    finished: int = 0
    failure: DomainError | None = None
    renewed: float = field(default_factory=time.monotonic)

    async def keep_lease(self) -> None:
        if time.monotonic() - self.renewed > self.runner.lease.total_seconds() / 3:
            self.renewed = time.monotonic()
            await self.runner.renew(self.job)


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


async def _template_for(batch: _Batch, code: Code, channel: MessageChannel) -> str | None:
    """The template asked for; else, as publishCode(channel) does, the code's experiment
    variant's (or the promoted one's) for this channel; else the default coupon."""
    if batch.template_ref:
        return batch.template_ref
    key = (code.experiment_id, code.variant, channel)
    if key not in batch.variant_templates:
        batch.variant_templates[key] = await experiments.template_for_code(
            code=code, channel=channel.value
        )
    return batch.variant_templates[key] or None


async def _code_for(batch: _Batch, customer: Customer) -> Code:
    earlier = batch.given.get(customer.key)
    if earlier is not None:
        return earlier
    # Repeated for the same customer it returns the same code, up to codes_per_customer.
    return await publish_code(
        batch.project.key, batch.campaign.key, customer.key, customer=customer
    )


def _customers_own(error: DomainError) -> bool:
    """The customer's state (erased, gone, no address) refused it, not the campaign's."""
    gone = isinstance(error, NotFound) and error.problems[0].field == "customerId"
    return gone or error.code in SKIPPED_CODES


async def _reach(batch: _Batch, customer: Customer) -> DistributionCounts:
    """One customer's code and messages; a DomainError left is the campaign's, not theirs."""
    counts = DistributionCounts()
    reachable = [channel for channel in batch.channels if contact_address(customer, channel)]
    counts.skipped = len(batch.channels) - len(reachable)
    if not reachable:
        # Nothing could carry the code: keep it for someone who can receive it.
        return counts
    try:
        code = await _code_for(batch, customer)
    except DomainError as error:
        if _customers_own(error):
            return DistributionCounts(skipped=len(batch.channels))
        raise
    counts.published = 1
    for channel in reachable:
        try:
            message = await queue_message(
                batch.links,
                batch.project.key,
                customer.key,
                channel,
                await _template_for(batch, code, channel),
                code.code,
                idempotency_key(batch.job.key, customer.key, channel),
                project=batch.project,
                campaign=batch.campaign,
                job_id=batch.job.key,
                customer=customer,
                code=code,
                # Only an earlier attempt of this batch can have queued it.
                probably_new=not batch.resumed,
            )
        except DomainError as error:
            if not _customers_own(error):
                raise
            counts.skipped += 1
            continue
        if message.status == MessageStatus.SUPPRESSED:
            counts.suppressed += 1
        else:
            counts.queued += 1
    return counts


async def _reach_all(batch: _Batch, customers: list[Customer]) -> None:
    """Works on CONCURRENCY customers at a time; after a campaign failure starts no one new."""
    waiting = iter(customers)

    async def work() -> None:
        for customer in waiting:
            if batch.failure is not None:
                return
            try:
                counts = await _reach(batch, customer)
            except DomainError as error:
                batch.failure = batch.failure or error
                return
            batch.counts.add(counts)
            batch.finished += 1
            await batch.keep_lease()

    # A TaskGroup: an unexpected error (or a lost lease) stops every worker of the batch, and
    # reaches the runner as itself, so a lost lease is recognized and a retry says what failed.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(CONCURRENCY, len(customers))):
                group.create_task(work())
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None


def _job_audience(job: Job) -> tuple[dict[str, Any], dict[str, Any] | None]:
    where = DistributionFilter.from_params(job.params["filter"])
    channels = [MessageChannel(value) for value in job.params["channels"]]
    return _audience_match(job.project_id, where, channels)


def _with(query: dict[str, Any], *more: dict[str, Any] | None) -> dict[str, Any]:
    # $and: an $or beside other conditions loses them on the embedded server.
    parts = [query, *(part for part in more if part is not None)]
    return parts[0] if len(parts) == 1 else {"$and": parts}


async def _job_segment(job: Job) -> Segment | None:
    segment_id = str(job.params.get("segment_id") or "")
    if not segment_id:
        return None
    try:
        return await get_segment(project_id=job.project_id, segment_id=segment_id)
    except NotFound:
        raise JobFailed(
            f"stopped after {job.done:,} of {job.total:,} customers: the segment was deleted"
        ) from None


async def _next_members(
    job: Job, segment: Segment, query: dict[str, Any], consent: dict[str, Any] | None, limit: int
) -> list[Any]:
    """A static segment: its members after the cursor, in id order, that match the filter.
    Members the filter leaves out are walked past until some match or none are left."""
    after = str(job.params.get("after") or "") or None
    async for chunk in segment_customer_ids(segment=segment, after=after, batch_size=limit):
        ids = [ObjectId(customer_id) for customer_id in chunk]
        rows = (
            await Customer.get_pymongo_collection()
            .find(_with({**query, "_id": {"$in": ids}}, consent), {"_id": 1})
            .sort("_id", 1)
            .to_list()
        )
        if rows:
            return [row["_id"] for row in rows]
    return []


async def next_customer_ids(job: Job, limit: int = ID_CHUNK) -> list[Any]:
    """The ids of the customers the job reaches next, after its cursor, in order."""
    query, consent = _job_audience(job)
    segment = await _job_segment(job)
    if segment is not None and segment.kind == SegmentKind.STATIC:
        return await _next_members(job, segment, query, consent, limit)
    after = str(job.params.get("after") or "")
    bounds: dict[str, Any] = {"$lt": job.id}
    if after:
        bounds["$gt"] = ObjectId(after)
    in_segment = None
    if segment is not None:
        in_segment = match_query(segment=segment, now=_aware(job.params.get("segment_now")))
    match = _with({**query, "_id": bounds}, consent, in_segment)
    rows = (
        await Customer.get_pymongo_collection()
        .find(match, {"_id": 1})
        .sort("_id", 1)
        .limit(limit)
        .to_list()
    )
    return [row["_id"] for row in rows]


async def _begin_batch(runner: JobRunner, job: Job) -> tuple[bool, datetime]:
    resumed = job.started_batch >= job.batch
    started = _aware(job.params.get("batch_started_at"))
    if resumed and started is not None:
        await runner.renew(job)
        return True, started
    started = utc_now()
    await runner.renew(job, started_batch=job.batch, **{"params.batch_started_at": started})
    job.started_batch = job.batch
    job.params["batch_started_at"] = started
    return False, started


async def _commit_batch(batch: _Batch, last_id: Any, customers: int) -> None:
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


async def run_batch(runner: JobRunner, job: Job, ids: list[Any], links: Links) -> None:
    """Reaches the customers with these ids (the next ones after the job's cursor), then moves
    the cursor past them. A batch redone after a crash finds its codes and messages again."""
    campaign = await _current_campaign(job)
    resumed, started_at = await _begin_batch(runner, job)
    template = str(job.params.get("template_ref") or "") or None
    batch = _Batch(
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
    customers = (
        await Customer.find({"_id": {"$in": ids}, "project_id": job.project_id})
        .sort("_id")
        .to_list()
    )
    if resumed and campaign.codes_per_customer > 1 and not campaign.standalone_code:
        keys = [customer.key for customer in customers]
        batch.given = await _codes_given_earlier(job, campaign, started_at, keys)
    # Customers erased since the ids were read are not reached.
    present = [customer for customer in customers if not customer.erased]
    await _reach_all(batch, present)
    if batch.failure is not None:
        # Keep what was done, counted, so the job tells the truth about it.
        await _commit_batch(batch, ids[-1], len(ids) - len(present) + batch.finished)
        raise JobFailed(_stopped(job, batch.failure))
    await _commit_batch(batch, ids[-1], len(ids))


def job_handlers(links: Links) -> dict[str, Handler]:
    """The job runner's handler for distributions, building its messages' links with `links`."""

    async def run_distribution(runner: JobRunner, job: Job) -> None:
        while ids := await next_customer_ids(job):
            for start in range(0, len(ids), job.batch_size):
                await run_batch(runner, job, ids[start : start + job.batch_size], links)
        # Customers erased or changed since the count are not reached: the total is what was.
        await runner.renew(job, total=job.done)
        job.total = job.done

    return {DISTRIBUTE_CAMPAIGN: run_distribution}

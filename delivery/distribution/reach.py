"""Reaching one batch's customers: a code each and a message by each channel."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from delivery.distribution.compose import MessageComposer
from delivery.distribution.progress import DistributionCounts
from delivery.outbox import Links, queue_message, queue_message_documents
from domain import experiments
from domain.campaigns import Campaign
from domain.codes import Code, publish_code, publish_codes_to_many
from domain.customers import Customer, contact_address
from domain.errors import DomainError, NotFound
from domain.jobs import Job, JobRunner
from domain.messages import MessageChannel, MessageStatus
from domain.projects import Project

# Customers worked on at once within a batch.
CONCURRENCY = 16
# A customer's own state, not the campaign's: the customer is skipped and the job goes on.
SKIPPED_CODES = frozenset({"ERASED", "NO_ADDRESS"})


def idempotency_key(*, job_id: str, customer_id: str, channel: MessageChannel) -> str:
    return f"distribution:{job_id}:{customer_id}:{channel.value}"


@dataclass
class Batch:
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
    # Without template_ref: the template of each (experiment, variant), by channel, "" for none.
    variant_templates: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    counts: DistributionCounts = field(default_factory=DistributionCounts)
    finished: int = 0
    failure: DomainError | None = None
    renewed: float = field(default_factory=time.monotonic)

    async def keep_lease(self) -> None:
        if time.monotonic() - self.renewed > self.runner.lease.total_seconds() / 3:
            self.renewed = time.monotonic()
            await self.runner.renew(self.job)


async def _template_for(batch: Batch, code: Code, channel: MessageChannel) -> str | None:
    """The template asked for; else, as publishCode(channel) does, the code's experiment
    variant's (or the promoted one's) for this channel; else the default coupon."""
    if batch.template_ref:
        return batch.template_ref
    key = (code.experiment_id, code.variant)
    if key not in batch.variant_templates:
        # Every channel of the batch in one lookup.
        batch.variant_templates[key] = await experiments.templates_for_code(
            code=code, channels=[each.value for each in batch.channels]
        )
    return batch.variant_templates[key][channel.value] or None


async def _code_for(batch: Batch, customer: Customer) -> Code:
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


async def _reach(batch: Batch, customer: Customer) -> DistributionCounts:
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
                idempotency_key(job_id=batch.job.key, customer_id=customer.key, channel=channel),
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


async def _reach_together(batch: Batch, customers: list[Customer]) -> list[Customer]:
    """A fresh batch's customers in a few round trips for all: their codes claimed and inserted
    together, their messages rendered one by one and inserted together. Returns the customers
    left for the one-by-one way (their codes could not be given together)."""
    reachable = {
        customer.key: [channel for channel in batch.channels if contact_address(customer, channel)]
        for customer in customers
    }
    addressed = [customer for customer in customers if reachable[customer.key]]
    try:
        codes = await publish_codes_to_many(campaign=batch.campaign, customers=addressed)
    except DomainError as error:
        batch.failure = batch.failure or error
        return []
    counts = DistributionCounts()
    composer = MessageComposer.for_batch(
        links_for=batch.links, project=batch.project, campaign=batch.campaign, job_id=batch.job.key
    )
    drafts: list[tuple[dict[str, Any], Customer]] = []
    # Nothing could carry a code to these: it is kept for someone who can receive it.
    done = [customer for customer in customers if not reachable[customer.key]]
    counts.skipped += len(batch.channels) * len(done)
    for customer in addressed:
        code = codes.get(customer.key)
        if code is None:
            continue
        done.append(customer)
        counts.published += 1
        counts.skipped += len(batch.channels) - len(reachable[customer.key])
        for channel in reachable[customer.key]:
            try:
                document = await composer.compose(
                    customer=customer,
                    channel=channel,
                    template_ref=await _template_for(batch, code, channel),
                    code=code,
                    idempotency_key=idempotency_key(
                        job_id=batch.job.key, customer_id=customer.key, channel=channel
                    ),
                )
            except DomainError as error:
                if not _customers_own(error):
                    batch.failure = batch.failure or error
                    return []
                counts.skipped += 1
                continue
            drafts.append((document, customer))
    for status in await queue_message_documents(batch.project.key, drafts):
        if status == MessageStatus.SUPPRESSED:
            counts.suppressed += 1
        else:
            counts.queued += 1
    batch.counts.add(counts)
    batch.finished += len(done)
    await batch.keep_lease()
    return [customer for customer in addressed if customer.key not in codes]


async def reach_all(*, batch: Batch, customers: list[Customer]) -> None:
    """A fresh batch goes together where it can; a resumed one, and whoever is left, one
    customer at a time, CONCURRENCY at once. After a campaign failure no one new is started."""
    if not batch.resumed:
        customers = await _reach_together(batch, customers)
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

"""The job runner's handler for distributions."""

from delivery.distribution.audience import next_customer_ids
from delivery.distribution.batch import run_batch
from delivery.distribution.progress import DISTRIBUTE_CAMPAIGN
from delivery.outbox import Links
from domain.jobs import Handler, Job, JobRunner


def job_handlers(*, links: Links) -> dict[str, Handler]:
    """The job runner's handler for distributions, building its messages' links with `links`."""

    async def run_distribution(runner: JobRunner, job: Job) -> None:
        while ids := await next_customer_ids(job=job):
            for start in range(0, len(ids), job.batch_size):
                await run_batch(
                    runner=runner, job=job, ids=ids[start : start + job.batch_size], links=links
                )
        # Customers erased or changed since the count are not reached: the total is what was.
        await runner.renew(job, total=job.done)
        job.total = job.done

    return {DISTRIBUTE_CAMPAIGN: run_distribution}

"""A distribution's job kind, and the counts the job keeps of what it did."""

from dataclasses import dataclass

from domain.errors import NotFound
from domain.jobs import Job, get_job

DISTRIBUTE_CAMPAIGN = "distribute_campaign"
COUNTS = ("published", "queued", "suppressed", "skipped")


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


async def get_distribution(*, project_id: str, job_id: str) -> Job:
    job = await get_job(project_id, job_id)
    if job.kind != DISTRIBUTE_CAMPAIGN:
        raise NotFound("distribution")
    return job

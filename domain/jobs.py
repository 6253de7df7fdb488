"""Background jobs: a persisted queue leased by runners; code generation in resumable batches."""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from bson import ObjectId
from pydantic import Field
from pymongo import IndexModel, ReturnDocument

from domain import webhooks
from domain.bulk import count_matching, insert_new
from domain.campaigns import Campaign, CampaignStatus, CodeConfig, get_campaign
from domain.code_errors import CodeError
from domain.codegen import new_codes
from domain.codes import Code, check_gives_codes, normalize_code, reserve_codes
from domain.common import object_id, utc_now
from domain.errors import DomainError, NotFound

log = logging.getLogger("engage.jobs")

GENERATE_CODES = "generate_codes"
MAX_GENERATE = 1_000_000
BATCH_SIZE = 5_000
LEASE = timedelta(seconds=30)
# A runner stopped mid-batch may have an insert still in flight: others wait this long (or the
# lease, if shorter) before resuming its job.
SHUTDOWN_GRACE = timedelta(seconds=2)
# Unexpected errors (a lost connection, say) are retried this many times in all.
MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(seconds=5)
# Insert rounds for one batch before concluding that unused codes are too hard to find.
MAX_ROUNDS = 25
# Stands for "no lease": the embedded server cannot match null reliably.
NO_LEASE = datetime(1970, 1, 1, tzinfo=UTC)


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Job(Document):
    project_id: str
    kind: str
    status: JobStatus = JobStatus.QUEUED
    params: dict[str, Any] = Field(default_factory=dict)
    total: int = 0
    done: int = 0
    # What made the job fail, for the caller to read.
    errors: list[str] = Field(default_factory=list)
    lease_owner: str = ""
    lease_until: datetime = NO_LEASE
    attempts: int = 0
    # The batch being worked on, and the highest batch an attempt has begun to write: a batch
    # begun before the current attempt may hold codes already, which are counted, not redone.
    batch: int = 0
    started_batch: int = -1
    batch_size: int = BATCH_SIZE
    # The last unexpected error, kept while the job is retried.
    last_error: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None

    class Settings:
        name = "jobs"
        indexes = [
            IndexModel([("status", 1), ("lease_until", 1)]),
            IndexModel([("project_id", 1), ("created_at", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def progress(self) -> float:
        if self.total <= 0:
            return 1.0 if self.status == JobStatus.SUCCEEDED else 0.0
        return min(1.0, self.done / self.total)


class JobFailed(Exception):
    """Ends the job as FAILED with a message meant for the caller."""


class LeaseLost(Exception):
    """Another runner took the job over: this one stops touching it."""


async def get_job(project_id: str, job_id: str) -> Job:
    job = await Job.find_one({"_id": object_id(job_id, "job"), "project_id": project_id})
    if job is None:
        raise NotFound("job")
    return job


async def generate_codes(
    project_id: str, campaign_id: str, count: int, *, batch_size: int = BATCH_SIZE
) -> Job:
    """Checks the request and queues a job that makes exactly `count` new codes."""
    if isinstance(count, bool) or not 1 <= count <= MAX_GENERATE:
        raise DomainError(
            CodeError.INVALID_COUNT, f"count must be between 1 and {MAX_GENERATE:,}", "count"
        )
    campaign = await get_campaign(project_id, campaign_id)
    check_gives_codes(campaign)
    if campaign.standalone_code:
        raise DomainError(
            CodeError.STANDALONE_CAMPAIGN,
            "this campaign uses one standalone code and has no generated codes",
            "campaignId",
        )
    job_id = ObjectId()
    # The batch entry is registered with the reservation, before the job exists, so every
    # batch the job counts finds it.
    await reserve_codes(campaign, count, also_set={f"generation_batches.{job_id}": -1})
    job = Job(
        id=job_id,
        project_id=project_id,
        kind=GENERATE_CODES,
        params={
            "campaign_id": campaign.key,
            "count": count,
            # The shape is fixed when asked for: editing the campaign later does not change it.
            "codes": campaign.codes.model_dump(mode="json"),
        },
        total=count,
        batch_size=max(1, batch_size),
    )
    await job.insert()
    return job


def _runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


Handler = Callable[["JobRunner", Job], Awaitable[None]]


class JobRunner:
    """Leases jobs one at a time and runs them; several runners may share one database.
    `handlers` adds job kinds from outside domain (distribution), built with their own
    configuration, to the ones registered in HANDLERS."""

    def __init__(
        self,
        owner: str | None = None,
        lease: timedelta = LEASE,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.owner = owner or _runner_name()
        self.lease = lease
        self.handlers = dict(handlers or {})

    @staticmethod
    def _jobs() -> Any:
        return Job.get_pymongo_collection()

    async def lease_next(self, only: Any = None) -> Job | None:
        """Takes the oldest job that is queued or whose runner's lease has run out (`only`: that
        job's id, for a command that runs its own job and no other)."""
        now = utc_now()
        wanted: dict[str, Any] = {} if only is None else {"_id": only}
        raw = await self._jobs().find_one_and_update(
            {
                **wanted,
                "status": {"$in": [JobStatus.QUEUED.value, JobStatus.RUNNING.value]},
                "lease_until": {"$lt": now},
            },
            {
                "$set": {
                    "status": JobStatus.RUNNING.value,
                    "lease_owner": self.owner,
                    "lease_until": now + self.lease,
                    "updated_at": now,
                },
                "$inc": {"attempts": 1},
            },
            sort=[("created_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return None if raw is None else Job.model_validate(raw)

    async def renew(self, job: Job, **fields: Any) -> None:
        """Extends the lease (and sets `fields`) only while this runner still holds the job."""
        now = utc_now()
        result = await self._jobs().update_one(
            {"_id": job.id, "lease_owner": self.owner, "status": JobStatus.RUNNING.value},
            {"$set": {"lease_until": now + self.lease, "updated_at": now, **fields}},
        )
        if result.matched_count == 0:
            raise LeaseLost(job.key)

    async def _finish(self, job: Job, status: JobStatus, error: str = "") -> None:
        now = utc_now()
        update: dict[str, Any] = {
            "$set": {
                "status": status.value,
                "lease_owner": "",
                "lease_until": NO_LEASE,
                "finished_at": now,
                "updated_at": now,
            }
        }
        if error:
            update["$push"] = {"errors": error}
        # Emitted before the job is marked finished: a runner that dies first leaves the job to
        # another, which emits again under the same event id. Read afresh only when a webhook
        # listens, since the handlers count `done` in the database.
        if await webhooks.listens(project_id=job.project_id, event_type=webhooks.JOB_FINISHED):
            current = await Job.get(job.id) or job
            finished = current.model_copy(
                update={
                    "status": status,
                    "finished_at": now,
                    "errors": [*current.errors, error] if error else current.errors,
                }
            )
            await webhooks.emit(
                project_id=job.project_id,
                event_type=webhooks.JOB_FINISHED,
                object_key=f"job:{job.id}",
                data=webhooks.objects.job(finished),
                dedupe_key=f"job.finished:{job.id}",
            )
        await self._jobs().update_one({"_id": job.id, "lease_owner": self.owner}, update)

    async def _release(self, job: Job, retry_at: datetime, error: str = "") -> None:
        fields: dict[str, Any] = {"lease_owner": "", "lease_until": retry_at}
        if error:
            fields["last_error"] = error
        await self._jobs().update_one({"_id": job.id, "lease_owner": self.owner}, {"$set": fields})

    async def run_job(self, job: Job) -> None:
        handler = self.handlers.get(job.kind) or HANDLERS.get(job.kind)
        try:
            if handler is None:
                raise JobFailed(f"unknown job kind {job.kind!r}")
            await handler(self, job)
            await self._finish(job, JobStatus.SUCCEEDED)
        except JobFailed as failure:
            await self._finish(job, JobStatus.FAILED, str(failure))
        except LeaseLost:
            log.warning("job %s was taken over by another runner", job.key)
        except asyncio.CancelledError:
            # Shutting down: another runner resumes the job once in-flight writes have landed.
            await self._release(job, utc_now() + min(self.lease, SHUTDOWN_GRACE))
            raise
        except Exception as error:
            log.exception("job %s failed (attempt %d)", job.key, job.attempts)
            message = f"{type(error).__name__}: {error}"
            if job.attempts >= MAX_ATTEMPTS:
                await self._finish(job, JobStatus.FAILED, message)
            else:
                await self._release(job, utc_now() + RETRY_DELAY * job.attempts, message)

    async def run_one(self) -> bool:
        """Runs one job if one is waiting; False when there was none."""
        job = await self.lease_next()
        if job is None:
            return False
        await self.run_job(job)
        return True

    async def run_pending(self) -> int:
        """Runs jobs until none is waiting; returns how many were run."""
        ran = 0
        while await self.run_one():
            ran += 1
        return ran


async def run_pending_jobs(
    owner: str | None = None, handlers: Mapping[str, Handler] | None = None
) -> int:
    """Runs every waiting job in this task (tests and one-off commands)."""
    return await JobRunner(owner, handlers=handlers).run_pending()


async def _count_batch(project_id: str, job_id: str, batch: int) -> int:
    return await count_matching(
        Code.get_pymongo_collection(), {"project_id": project_id, "job_id": job_id, "batch": batch}
    )


async def _insert_new(documents: list[dict[str, Any]]) -> int:
    return await insert_new(Code.get_pymongo_collection(), documents)


def _code_documents(
    template: dict[str, Any], config: CodeConfig, count: int
) -> list[dict[str, Any]]:
    by_code: dict[str, str] = {}
    for display in new_codes(config, count):
        by_code.setdefault(normalize_code(display), display)
    return [{**template, "code": code, "display": display} for code, display in by_code.items()]


async def _remove_surplus(project_id: str, job_id: str, batch: int, surplus: int) -> int:
    """Deletes `surplus` unassigned codes of a batch; returns how many were deleted."""
    codes = Code.get_pymongo_collection()
    extra = await codes.find(
        {"project_id": project_id, "job_id": job_id, "batch": batch, "assigned": False},
        {"_id": 1},
    ).to_list(surplus)
    if not extra:
        return 0
    result = await codes.delete_many({"_id": {"$in": [row["_id"] for row in extra]}})
    return int(result.deleted_count)


async def _fill_batch(
    runner: JobRunner, job: Job, template: dict[str, Any], config: CodeConfig, size: int
) -> int:
    """Brings the batch to `size` codes; returns how many it holds (fewer only when stuck)."""
    batch = job.batch
    resumed = job.started_batch >= batch
    await runner.renew(job, started_batch=batch)
    present = await _count_batch(job.project_id, job.key, batch) if resumed else 0
    rounds = 0
    while True:
        while present < size:
            rounds += 1
            if rounds > MAX_ROUNDS:
                return present
            if rounds > 1:
                await runner.renew(job)
            present += await _insert_new(_code_documents(template, config, size - present))
        if not resumed:
            return present
        # An insert of the attempt that died may land late: count again, and trim what it added.
        present = await _count_batch(job.project_id, job.key, batch)
        if present > size:
            present -= await _remove_surplus(job.project_id, job.key, batch, present - size)
        if present >= size:
            return present


async def _commit_batch(
    runner: JobRunner, job: Job, campaign: Campaign, batch: int, made: int
) -> None:
    """Counts the batch's codes on the campaign once, then moves the job to the next batch."""
    # The entry on the campaign makes this $inc happen once per batch, whatever crashes.
    await Campaign.get_pymongo_collection().update_one(
        {
            "_id": campaign.id,
            "project_id": job.project_id,
            f"generation_batches.{job.key}": batch - 1,
        },
        {"$inc": {"codes_count": made}, "$set": {f"generation_batches.{job.key}": batch}},
    )
    now = utc_now()
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job.id, "lease_owner": runner.owner, "batch": batch},
        {
            "$set": {
                "batch": batch + 1,
                "done": job.done + made,
                "lease_until": now + runner.lease,
                "updated_at": now,
            }
        },
    )
    if result.matched_count == 0:
        raise LeaseLost(job.key)
    job.batch = batch + 1
    job.done += made


async def generate_batch(
    runner: JobRunner, job: Job, campaign: Campaign, config: CodeConfig
) -> None:
    """Brings the job's current batch to its size, counts it on the campaign, and moves on.

    Every code carries the job id and batch number, so an attempt that resumes a batch counts
    what earlier attempts inserted and adds only the rest: the job ends with exactly `total`.
    """
    batch = job.batch
    size = min(job.batch_size, job.total - job.done)
    template = Code(
        project_id=job.project_id,
        code="-",
        display="-",
        campaign_id=campaign.key,
        pool=campaign.key,
        job_id=job.key,
        batch=batch,
    ).model_dump(exclude={"id", "revision_id"})
    made = await _fill_batch(runner, job, template, config, size)
    if made < size:
        # Keep what was made, counted, so the campaign's count stays true.
        await _commit_batch(runner, job, campaign, batch, made)
        raise JobFailed(
            f"stopped after {job.done:,} of {job.total:,} codes: new codes keep colliding "
            "with existing ones; make the campaign's codes longer"
        )
    await _commit_batch(runner, job, campaign, batch, size)


async def _run_generation(runner: JobRunner, job: Job) -> None:
    config = CodeConfig.model_validate(job.params["codes"])
    campaign_id = str(job.params["campaign_id"])
    while job.done < job.total:
        try:
            campaign = await get_campaign(job.project_id, campaign_id)
        except NotFound:
            # Codes of a deleted campaign could only confuse a lookup.
            await Code.get_pymongo_collection().delete_many(
                {"project_id": job.project_id, "job_id": job.key}
            )
            raise JobFailed(
                "the campaign was deleted while its codes were being generated"
            ) from None
        if campaign.status == CampaignStatus.ENDED:
            raise JobFailed(f"the campaign ended after {job.done:,} of {job.total:,} codes")
        await generate_batch(runner, job, campaign, config)


HANDLERS: dict[str, Handler] = {GENERATE_CODES: _run_generation}

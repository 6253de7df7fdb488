"""GraphQL for background jobs: generateCodes queues one, job(id) shows its progress."""

from datetime import datetime
from enum import Enum

import strawberry

from domain import imports, jobs
from domain.errors import NotFound
from schema.context import Info
from schema.errors import payload
from schema.import_reports import ImportRowErrorType
from schema.permissions import IsAdmin
from schema.types import Connection, UserError, connection


@strawberry.enum(name="JobStatus")
class JobStatusEnum(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(name="Job")
class JobType:
    id: strawberry.ID
    kind: str
    status: JobStatusEnum
    progress: float = strawberry.field(description="From 0 to 1: done / total.")
    total: int = strawberry.field(description="How many items the job makes (codes, say).")
    done: int
    errors: list[str] = strawberry.field(description="Why the job failed; empty otherwise.")
    created_at: datetime
    finished_at: datetime | None
    rows_imported: int = strawberry.field(
        default=0, description="Imports: rows stored so far; 0 for other jobs."
    )
    rows_unchanged: int = strawberry.field(
        default=0, description="Imports: rows already stored (same sourceId or order id)."
    )
    rows_failed: int = strawberry.field(
        default=0, description="Imports: rows skipped for a problem listed in rowErrors."
    )

    @strawberry.field(
        description="Imports: each problem of a skipped row (the first 10,000 rows' are kept)."
    )
    async def row_errors(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ImportRowErrorType]:
        page = await imports.list_row_errors(info.context.project_id, str(self.id), first, after)
        return connection(page, ImportRowErrorType.from_doc)

    @classmethod
    def from_doc(cls, doc: jobs.Job) -> "JobType":
        counts = imports.counts_of(doc)
        return cls(
            id=strawberry.ID(doc.key),
            kind=doc.kind,
            status=JobStatusEnum(doc.status.value),
            progress=doc.progress,
            total=doc.total,
            done=doc.done,
            errors=list(doc.errors),
            created_at=doc.created_at,
            finished_at=doc.finished_at,
            rows_imported=counts.imported,
            rows_unchanged=counts.unchanged,
            rows_failed=counts.failed,
        )


@strawberry.type
class GenerateCodesPayload:
    job: JobType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class JobQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="Null when the project has no such job."
    )
    async def job(self, info: Info, id: strawberry.ID) -> JobType | None:
        try:
            found = await jobs.get_job(info.context.project_id, str(id))
        except NotFound:
            return None
        return JobType.from_doc(found)


@strawberry.type
class JobMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Queues a background job making `count` new unique codes for the campaign; "
        "follow it with job(id). Refused when the codes would fill more than 1% of the "
        "campaign's possible codes.",
    )
    @payload
    async def generate_codes(
        self, info: Info, campaign_id: strawberry.ID, count: int
    ) -> GenerateCodesPayload:
        job = await jobs.generate_codes(info.context.project_id, str(campaign_id), count)
        return GenerateCodesPayload(job=JobType.from_doc(job))

"""GraphQL for background jobs: generateCodes queues one, job(id) shows its progress."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import imports, jobs
from domain.errors import NotFound
from schema.context import Info
from schema.described_enums import described_enum
from schema.errors import payload
from schema.import_reports import ImportRowErrorType
from schema.permissions import IsAdmin
from schema.types import Connection, UserError, connection


@described_enum(
    name="JobStatus",
    description="Where a background job stands.",
    values={
        "QUEUED": "Waiting for a worker.",
        "RUNNING": "A worker is on it; `done` grows.",
        "SUCCEEDED": "Finished: every item was made (skipped import rows are in rowErrors).",
        "FAILED": "Stopped; `errors` says why.",
    },
)
class JobStatusEnum(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(
    name="Job",
    description=(
        "A background job: code generation, an import, a distribution or the RFM computation. "
        "Readable by admin keys."
    ),
)
class JobType:
    id: strawberry.ID = strawberry.field(description="The job's id.")
    kind: str = strawberry.field(
        description=(
            "What the job does: generate_codes, import_customers, import_orders, "
            "distribute_campaign or compute_rfm."
        )
    )
    status: JobStatusEnum = strawberry.field(description="Where the job stands.")
    progress: float = strawberry.field(description="From 0 to 1: done / total.")
    total: int = strawberry.field(description="How many items the job makes (codes, say).")
    done: int = strawberry.field(description="How many items are done so far.")
    errors: list[str] = strawberry.field(description="Why the job failed; empty otherwise.")
    created_at: datetime = strawberry.field(description="When the job was queued, UTC ISO 8601.")
    finished_at: datetime | None = strawberry.field(
        description="When it SUCCEEDED or FAILED, UTC ISO 8601; null before."
    )
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
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many row problems to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
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


@strawberry.type(
    description="The result of generateCodes: the queued job, or what was wrong.",
)
class GenerateCodesPayload:
    job: JobType | None = strawberry.field(
        default=None, description="The queued job; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was queued."
        ),
    )


@strawberry.type
class JobQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="One background job with its progress; null when the project has no such job.",
    )
    async def job(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> JobType | None:
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
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The DISCOUNT campaign (not one with a standalone code)."
            ),
        ],
        count: Annotated[
            int, strawberry.argument(description="How many codes to make, 1 to 1,000,000.")
        ],
    ) -> GenerateCodesPayload:
        job = await jobs.generate_codes(info.context.project_id, str(campaign_id), count)
        return GenerateCodesPayload(job=JobType.from_doc(job))

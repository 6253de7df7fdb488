"""GraphQL for segments (static member lists, dynamic filters) and the RFM recomputation."""

import typing
from datetime import datetime
from enum import Enum

import strawberry

from domain import rfm, segments
from domain.errors import NotFound
from schema.context import Info
from schema.customers import CustomerType
from schema.errors import payload
from schema.jobs import JobType
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, UserError, connection

FILTER_HELP = (
    'A dynamic segment\'s filter: {"all": [...]} or {"any": [...]} of nodes, or a condition '
    '{"field", "op", "value"}. See the README, "Segments and RFM", for fields and ops.'
)


@strawberry.enum(name="SegmentKind")
class SegmentKindEnum(Enum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


@strawberry.type(name="Segment")
class SegmentType:
    id: strawberry.ID
    name: str
    kind: SegmentKindEnum
    filter: JSON | None = strawberry.field(description=FILTER_HELP + " Null for static ones.")
    created_at: datetime
    updated_at: datetime
    doc: strawberry.Private[segments.Segment]

    @classmethod
    def from_doc(cls, doc: segments.Segment) -> "SegmentType":
        return cls(
            id=strawberry.ID(doc.key),
            name=doc.name,
            kind=SegmentKindEnum(doc.kind.value),
            filter=typing.cast(JSON, doc.filter)
            if doc.kind == segments.SegmentKind.DYNAMIC
            else None,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            doc=doc,
        )

    @strawberry.field(
        description="How many customers are in it: the kept member count of a static segment, "
        "a count by the database of a dynamic one's matches (erased customers never count)."
    )
    async def size(self, info: Info) -> int:
        return await info.context.loaders.segment_size.load(self.doc)

    @strawberry.field(description="The first members in id order (at most 100).")
    async def sample(self, info: Info, first: int = 10) -> list[CustomerType]:
        found = await info.context.loaders.segment_sample.load((self.doc, first))
        return [CustomerType.from_doc(customer) for customer in found]


@strawberry.input
class SegmentInput:
    name: str
    kind: SegmentKindEnum
    filter: JSON | None = strawberry.field(default=None, description=FILTER_HELP)


@strawberry.input
class SegmentUpdateInput:
    name: str | None = None
    filter: JSON | None = strawberry.field(
        default=None, description="Replaces a dynamic segment's filter. " + FILTER_HELP
    )


@strawberry.type
class SegmentPayload:
    segment: SegmentType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AddSegmentMembersPayload:
    segment: SegmentType | None = None
    added: int = strawberry.field(default=0, description="Customers that were not members yet.")
    already_members: int = strawberry.field(
        default=0, description="Given ids (repeats included) that added nobody new."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RemoveSegmentMembersPayload:
    segment: SegmentType | None = None
    removed: int = 0
    not_members: int = strawberry.field(
        default=0, description="Given ids (repeats included) that removed nobody."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecomputeRfmPayload:
    job: JobType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SegmentQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="Null when the project has no such segment."
    )
    async def segment(self, info: Info, id: strawberry.ID) -> SegmentType | None:
        try:
            found = await segments.get_segment(
                project_id=info.context.project_id, segment_id=str(id)
            )
        except NotFound:
            return None
        return SegmentType.from_doc(found)

    @strawberry.field(permission_classes=[IsAdmin])
    async def segments(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[SegmentType]:
        page = await segments.list_segments(
            project_id=info.context.project_id, first=first, after=after
        )
        return connection(page, SegmentType.from_doc)


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_segment(self, info: Info, input: SegmentInput) -> SegmentPayload:
        segment = await segments.create_segment(
            project_id=info.context.project_id,
            name=input.name,
            kind=segments.SegmentKind(input.kind.value),
            filter=typing.cast(typing.Any, input.filter),
        )
        return SegmentPayload(segment=SegmentType.from_doc(segment))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def update_segment(
        self, info: Info, id: strawberry.ID, input: SegmentUpdateInput
    ) -> SegmentPayload:
        segment = await segments.update_segment(
            project_id=info.context.project_id,
            segment_id=str(id),
            name=input.name,
            filter=typing.cast(typing.Any, input.filter),
        )
        return SegmentPayload(segment=SegmentType.from_doc(segment))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Deletes the segment and its members; refused while an active or paused "
        "campaign targets it.",
    )
    @payload
    async def delete_segment(self, info: Info, id: strawberry.ID) -> SegmentPayload:
        segment = await segments.delete_segment(
            project_id=info.context.project_id, segment_id=str(id)
        )
        return SegmentPayload(segment=SegmentType.from_doc(segment))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Adds up to 10,000 customers to a static segment. Ids that are not the "
        "project's customers (or are erased) refuse the whole call, each listed in errors, "
        "and nothing is added.",
    )
    @payload
    async def add_segment_members(
        self, info: Info, segment_id: strawberry.ID, customer_ids: list[strawberry.ID]
    ) -> AddSegmentMembersPayload:
        change = await segments.add_members(
            project_id=info.context.project_id,
            segment_id=str(segment_id),
            customer_ids=[str(i) for i in customer_ids],
        )
        return AddSegmentMembersPayload(
            segment=SegmentType.from_doc(change.segment),
            added=change.changed,
            already_members=change.unchanged,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Removes up to 10,000 customers from a static segment.",
    )
    @payload
    async def remove_segment_members(
        self, info: Info, segment_id: strawberry.ID, customer_ids: list[strawberry.ID]
    ) -> RemoveSegmentMembersPayload:
        change = await segments.remove_members(
            project_id=info.context.project_id,
            segment_id=str(segment_id),
            customer_ids=[str(i) for i in customer_ids],
        )
        return RemoveSegmentMembersPayload(
            segment=SegmentType.from_doc(change.segment),
            removed=change.changed,
            not_members=change.unchanged,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Queues the job recomputing every customer's RFM scores and group now "
        "(it also runs daily); returns the job already queued if there is one.",
    )
    @payload
    async def recompute_rfm(self, info: Info) -> RecomputeRfmPayload:
        job = await rfm.recompute_rfm(info.context.project_id)
        return RecomputeRfmPayload(job=JobType.from_doc(job))

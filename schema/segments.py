"""GraphQL for segments (static member lists, dynamic filters) and the RFM recomputation."""

import typing
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import rfm, segments
from domain.errors import NotFound
from schema.context import Info
from schema.customers import CustomerType
from schema.described_enums import described_enum
from schema.errors import payload
from schema.jobs import JobType
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, UserError, connection

FILTER_HELP = (
    'A dynamic segment\'s filter: {"all": [...]} or {"any": [...]} of nodes, or a condition '
    '{"field", "op", "value"}. See the README, "Segments and RFM", for fields and ops.'
)


@described_enum(
    name="SegmentKind",
    description="How a segment's members are decided.",
    values={
        "STATIC": (
            "A kept list of customers, changed by addSegmentMembers and removeSegmentMembers."
        ),
        "DYNAMIC": "Every customer who matches the segment's filter at the time it is read.",
    },
)
class SegmentKindEnum(Enum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


@strawberry.type(
    name="Segment",
    description=(
        "A group of the project's customers, targeted by campaign rules and distributions. "
        "Readable by admin keys."
    ),
)
class SegmentType:
    id: strawberry.ID = strawberry.field(description="The segment's id.")
    name: str = strawberry.field(
        description="The segment's name, 1 to 200 characters, unique in the project."
    )
    kind: SegmentKindEnum = strawberry.field(
        description="STATIC (a member list) or DYNAMIC (a filter)."
    )
    filter: JSON | None = strawberry.field(description=FILTER_HELP + " Null for static ones.")
    created_at: datetime = strawberry.field(
        description="When the segment was created, UTC ISO 8601."
    )
    updated_at: datetime = strawberry.field(
        description="When the segment last changed, UTC ISO 8601."
    )
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
    async def sample(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many members to return, 0 to 100.")
        ] = 10,
    ) -> list[CustomerType]:
        found = await info.context.loaders.segment_sample.load((self.doc, first))
        return [CustomerType.from_doc(customer) for customer in found]


@strawberry.input(
    description="A new segment.",
)
class SegmentInput:
    name: str = strawberry.field(
        description="The segment's name, 1 to 200 characters, unique in the project."
    )
    kind: SegmentKindEnum = strawberry.field(
        description="STATIC (members added later) or DYNAMIC (needs a filter)."
    )
    filter: JSON | None = strawberry.field(default=None, description=FILTER_HELP)


@strawberry.input(
    description="Changes to a segment; left-out fields keep their value.",
)
class SegmentUpdateInput:
    name: str | None = strawberry.field(
        default=None, description="A new name, 1 to 200 characters, unique in the project."
    )
    filter: JSON | None = strawberry.field(
        default=None, description="Replaces a dynamic segment's filter. " + FILTER_HELP
    )


@strawberry.type(
    description="The result of a segment mutation: the segment, or what was wrong.",
)
class SegmentPayload:
    segment: SegmentType | None = strawberry.field(
        default=None,
        description=(
            "The segment as stored (for deleteSegment: as it was); null when `errors` is not empty."
        ),
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    description="The result of addSegmentMembers.",
)
class AddSegmentMembersPayload:
    segment: SegmentType | None = strawberry.field(
        default=None, description="The segment after the change; null when `errors` is not empty."
    )
    added: int = strawberry.field(default=0, description="Customers that were not members yet.")
    already_members: int = strawberry.field(
        default=0, description="Given ids (repeats included) that added nobody new."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was added."
        ),
    )


@strawberry.type(
    description="The result of removeSegmentMembers.",
)
class RemoveSegmentMembersPayload:
    segment: SegmentType | None = strawberry.field(
        default=None, description="The segment after the change; null when `errors` is not empty."
    )
    removed: int = strawberry.field(default=0, description="Members that were removed.")
    not_members: int = strawberry.field(
        default=0, description="Given ids (repeats included) that removed nobody."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was removed."
        ),
    )


@strawberry.type(
    description="The result of recomputeRfm: the job, or what was wrong.",
)
class RecomputeRfmPayload:
    job: JobType | None = strawberry.field(
        default=None,
        description="The queued (or already queued) RFM job; follow it with `job(id)`.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the request; empty on success."
    )


@strawberry.type
class SegmentQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="One segment; null when the project has no such segment.",
    )
    async def segment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The segment's id.")],
    ) -> SegmentType | None:
        try:
            found = await segments.get_segment(
                project_id=info.context.project_id, segment_id=str(id)
            )
        except NotFound:
            return None
        return SegmentType.from_doc(found)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The project's segments, oldest first.",
    )
    async def segments(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many segments to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[SegmentType]:
        page = await segments.list_segments(
            project_id=info.context.project_id, first=first, after=after
        )
        return connection(page, SegmentType.from_doc)


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="Creates a segment.")
    @payload
    async def create_segment(
        self,
        info: Info,
        input: Annotated[SegmentInput, strawberry.argument(description="The segment.")],
    ) -> SegmentPayload:
        segment = await segments.create_segment(
            project_id=info.context.project_id,
            name=input.name,
            kind=segments.SegmentKind(input.kind.value),
            filter=typing.cast(typing.Any, input.filter),
        )
        return SegmentPayload(segment=SegmentType.from_doc(segment))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Renames a segment or replaces a dynamic one's filter.",
    )
    @payload
    async def update_segment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The segment's id.")],
        input: Annotated[SegmentUpdateInput, strawberry.argument(description="The changes.")],
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
    async def delete_segment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The segment's id.")],
    ) -> SegmentPayload:
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
        self,
        info: Info,
        segment_id: Annotated[
            strawberry.ID, strawberry.argument(description="The STATIC segment.")
        ],
        customer_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description=(
                    "Customer ids of the project, at most 10,000 per call; repeats are "
                    "counted once."
                )
            ),
        ],
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
        self,
        info: Info,
        segment_id: Annotated[
            strawberry.ID, strawberry.argument(description="The STATIC segment.")
        ],
        customer_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="Customer ids, at most 10,000 per call."),
        ],
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

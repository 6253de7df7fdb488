"""GraphQL for distributing a campaign: distributeCampaign queues the job, distribution(id)
reports what it did."""

from datetime import datetime
from typing import Annotated

import strawberry

from delivery import distribution
from domain.errors import NotFound
from domain.jobs import Job
from domain.messages import MessageChannel
from schema.context import Info
from schema.errors import payload
from schema.jobs import JobType
from schema.messages import MessageChannelEnum
from schema.permissions import IsAdmin
from schema.providers import DeliveryWarning, channel_warnings
from schema.types import UserError


@strawberry.input(description="Which customers a distribution reaches; erased ones never are.")
class DistributionFilter:
    tags: list[str] | None = strawberry.field(
        default=None, description="Customers having every one of these tags."
    )
    email: str | None = strawberry.field(
        default=None, description="Only the customer with this email address (any case)."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Only customers created at or after this time, ISO 8601."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Only customers created before this time, ISO 8601."
    )
    consented: bool = strawberry.field(
        default=False,
        description="Only customers who consented to at least one of the channels. Otherwise "
        "a customer without consent gets a SUPPRESSED message: recorded, never sent.",
    )

    def to_domain(self) -> distribution.DistributionFilter:
        return distribution.DistributionFilter(
            tags=tuple(self.tags or ()),
            email=self.email,
            created_after=self.created_after,
            created_before=self.created_before,
            consented=self.consented,
        )


@strawberry.type(
    name="Distribution",
    description=(
        "A distribution: a job that gave the campaign's codes to matching customers and "
        "queued messages with them. Readable by admin keys."
    ),
)
class DistributionType:
    job: JobType = strawberry.field(
        description="The job doing the distribution, with its status and progress."
    )
    campaign_id: strawberry.ID = strawberry.field(
        description="The DISCOUNT campaign whose codes it gives."
    )
    channels: list[MessageChannelEnum] = strawberry.field(
        description="The channels messages are queued on."
    )
    template_id: str = strawberry.field(
        description='The template of the messages; "" for the default, builtin:coupon.'
    )
    published: int = strawberry.field(description="Customers given a code so far.")
    queued: int = strawberry.field(description="Messages queued for sending.")
    suppressed: int = strawberry.field(
        description="Messages recorded as SUPPRESSED: no consent, or the address opted out."
    )
    skipped: int = strawberry.field(
        description="Customer and channel pairs without a message: no address for the "
        "channel, or the customer was erased."
    )

    @classmethod
    def from_job(cls, job: Job) -> "DistributionType":
        counts = distribution.DistributionCounts.of(job)
        return cls(
            job=JobType.from_doc(job),
            campaign_id=strawberry.ID(str(job.params["campaign_id"])),
            channels=[MessageChannelEnum(value) for value in job.params["channels"]],
            template_id=str(job.params.get("template_ref") or ""),
            published=counts.published,
            queued=counts.queued,
            suppressed=counts.suppressed,
            skipped=counts.skipped,
        )


@strawberry.type(
    description="The result of distributeCampaign: the queued job, or what was wrong.",
)
class DistributeCampaignPayload:
    job: JobType | None = strawberry.field(
        default=None, description="The queued distribution job; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was queued."
        ),
    )
    warnings: list[DeliveryWarning] = strawberry.field(
        default_factory=list,
        description="One per channel whose messages will be recorded in the sink, not sent.",
    )


@strawberry.type
class DistributionQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="A distribution job with its counts; null when the project has none with "
        "this id.",
    )
    async def distribution(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The distribution job's id (from distributeCampaign)."),
        ],
    ) -> DistributionType | None:
        try:
            job = await distribution.get_distribution(
                project_id=info.context.project_id, job_id=str(id)
            )
        except NotFound:
            return None
        return DistributionType.from_job(job)


@strawberry.type
class DistributionMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Queues a background job publishing a code of the campaign to every "
        "customer matching the filter and queueing a message with it by each channel; follow "
        "it with job(id) or distribution(id). templateId defaults to builtin:coupon.",
    )
    @payload
    async def distribute_campaign(
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The DISCOUNT campaign whose codes are given."),
        ],
        channels: Annotated[
            list[MessageChannelEnum],
            strawberry.argument(description="EMAIL, SMS or both, each once."),
        ],
        filter: Annotated[
            DistributionFilter | None,
            strawberry.argument(
                description=(
                    "Which customers; null reaches every customer (of the segment, if given)."
                )
            ),
        ] = None,
        template_id: Annotated[
            str | None,
            strawberry.argument(
                description="The template of the messages; null for builtin:coupon."
            ),
        ] = None,
        segment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description=(
                    "Only members of this segment (a dynamic one is read when the job "
                    "starts); null for all customers."
                )
            ),
        ] = None,
    ) -> DistributeCampaignPayload:
        job_channels = [MessageChannel(channel.value) for channel in channels]
        job = await distribution.distribute_campaign(
            project_id=info.context.project_id,
            campaign_id=str(campaign_id),
            channels=job_channels,
            where=filter.to_domain() if filter is not None else None,
            template_ref=template_id,
            segment_id=str(segment_id) if segment_id is not None else None,
        )
        warnings = await channel_warnings(info, job_channels)
        return DistributeCampaignPayload(job=JobType.from_doc(job), warnings=warnings)

"""GraphQL queries and mutations for campaigns: read, create, update, pause, resume, end."""

from typing import Annotated

import strawberry

from domain import campaigns, redemptions
from domain.errors import NotFound
from schema.campaigns.enums import CampaignKindEnum, CampaignStatusEnum
from schema.campaigns.inputs import CampaignInputType
from schema.campaigns.types import CampaignType
from schema.context import Info
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.types import Connection, UserError, connection


@strawberry.input(
    description="Which campaigns to list; left-out fields match all.",
)
class CampaignFilter:
    kind: CampaignKindEnum | None = strawberry.field(
        default=None, description="Only campaigns of this kind."
    )
    status: CampaignStatusEnum | None = strawberry.field(
        default=None, description="Only campaigns in this status."
    )


@strawberry.type(
    description="The result of a campaign mutation: the campaign, or what was wrong.",
)
class CampaignPayload:
    campaign: CampaignType | None = strawberry.field(
        default=None,
        description="The campaign as stored after the mutation; null when `errors` is not empty.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class CampaignQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="One campaign; null when the project has no such campaign.",
    )
    async def campaign(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The campaign's id.")],
    ) -> CampaignType | None:
        try:
            found = await campaigns.get_campaign(info.context.project_id, str(id), "id")
        except NotFound:
            return None
        return CampaignType.from_doc(found)

    @strawberry.field(
        permission_classes=[IsAdmin], description="The project's campaigns, oldest first."
    )
    async def campaigns(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many campaigns to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
        filter: Annotated[
            CampaignFilter | None,
            strawberry.argument(description="Which campaigns to list; null lists all."),
        ] = None,
    ) -> Connection[CampaignType]:
        wanted = filter or CampaignFilter()
        kind = None if wanted.kind is None else campaigns.CampaignKind(wanted.kind.value)
        status = None if wanted.status is None else campaigns.CampaignStatus(wanted.status.value)
        page = await campaigns.list_campaigns(
            project_id=info.context.project_id, first=first, after=after, kind=kind, status=status
        )
        return connection(page, CampaignType.from_doc)


async def _set_status(
    info: Info, id: strawberry.ID, status: campaigns.CampaignStatus
) -> CampaignPayload:
    campaign = await campaigns.set_campaign_status(
        project_id=info.context.project_id, campaign_id=str(id), status=status
    )
    return CampaignPayload(campaign=CampaignType.from_doc(campaign))


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Creates a campaign. A DISCOUNT campaign needs a name and a discount.",
    )
    @payload
    async def create_campaign(
        self,
        info: Info,
        input: Annotated[
            CampaignInputType,
            strawberry.argument(
                description="The new campaign; left-out fields take their defaults."
            ),
        ],
    ) -> CampaignPayload:
        campaign = await campaigns.create_campaign(
            project_id=info.context.project_id, data=input.to_domain()
        )
        return CampaignPayload(campaign=CampaignType.from_doc(campaign))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Changes the fields given of a campaign; the others keep their value.",
    )
    @payload
    async def update_campaign(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The campaign's id.")],
        input: Annotated[
            CampaignInputType,
            strawberry.argument(
                description=(
                    "The fields to change; left-out fields keep their value, null clears "
                    "where allowed."
                )
            ),
        ],
    ) -> CampaignPayload:
        data = input.to_domain()
        campaign = await campaigns.update_campaign(
            project_id=info.context.project_id, campaign_id=str(id), data=data
        )
        if data.limits is not None:
            await redemptions.count_limited_counters(campaign=campaign)
        return CampaignPayload(campaign=CampaignType.from_doc(campaign))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Pauses an ACTIVE campaign: its codes are refused with PAUSED until resumed.",
    )
    @payload
    async def pause_campaign(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The campaign's id.")],
    ) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.PAUSED)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Makes a PAUSED campaign ACTIVE again; an ENDED one cannot be resumed.",
    )
    @payload
    async def resume_campaign(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The campaign's id.")],
    ) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.ACTIVE)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Ends the campaign for good: no code of it works after.",
    )
    @payload
    async def end_campaign(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The campaign's id.")],
    ) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.ENDED)

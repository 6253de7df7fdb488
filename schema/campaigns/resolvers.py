"""GraphQL queries and mutations for campaigns: read, create, update, pause, resume, end."""

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


@strawberry.input
class CampaignFilter:
    kind: CampaignKindEnum | None = None
    status: CampaignStatusEnum | None = None


@strawberry.type
class CampaignPayload:
    campaign: CampaignType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CampaignQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="Null when the project has no such campaign."
    )
    async def campaign(self, info: Info, id: strawberry.ID) -> CampaignType | None:
        try:
            found = await campaigns.get_campaign(info.context.project_id, str(id), "id")
        except NotFound:
            return None
        return CampaignType.from_doc(found)

    @strawberry.field(permission_classes=[IsAdmin], description="Oldest first.")
    async def campaigns(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: CampaignFilter | None = None,
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
    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_campaign(self, info: Info, input: CampaignInputType) -> CampaignPayload:
        campaign = await campaigns.create_campaign(
            project_id=info.context.project_id, data=input.to_domain()
        )
        return CampaignPayload(campaign=CampaignType.from_doc(campaign))

    @strawberry.mutation(permission_classes=[IsAdmin], description="Changes only the fields given.")
    @payload
    async def update_campaign(
        self, info: Info, id: strawberry.ID, input: CampaignInputType
    ) -> CampaignPayload:
        data = input.to_domain()
        campaign = await campaigns.update_campaign(
            project_id=info.context.project_id, campaign_id=str(id), data=data
        )
        if data.limits is not None:
            await redemptions.count_limited_counters(campaign=campaign)
        return CampaignPayload(campaign=CampaignType.from_doc(campaign))

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="Its codes validate as PAUSED until resumed."
    )
    @payload
    async def pause_campaign(self, info: Info, id: strawberry.ID) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.PAUSED)

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="An ENDED campaign cannot be resumed."
    )
    @payload
    async def resume_campaign(self, info: Info, id: strawberry.ID) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.ACTIVE)

    @strawberry.mutation(permission_classes=[IsAdmin], description="Final: no code works after.")
    @payload
    async def end_campaign(self, info: Info, id: strawberry.ID) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.ENDED)

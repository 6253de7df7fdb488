"""Reading campaigns: one by id, several at once, or a page of a project's campaigns."""

from typing import Any

from domain.campaigns.models import Campaign, CampaignKind, CampaignStatus
from domain.common import object_id, object_ids
from domain.errors import NotFound
from domain.pagination import Page, paginate


async def get_campaign(project_id: str, campaign_id: str, field: str = "campaignId") -> Campaign:
    campaign = await Campaign.find_one(
        {"_id": object_id(campaign_id, "campaign", field), "project_id": project_id}
    )
    if campaign is None:
        raise NotFound("campaign", field)
    return campaign


async def campaigns_by_id(*, project_id: str, campaign_ids: list[str]) -> dict[str, Campaign]:
    """The project's campaigns among the ids, in one query, by id; unknown ids are left out."""
    found = await Campaign.find(
        {"_id": {"$in": object_ids(campaign_ids)}, "project_id": project_id}
    ).to_list()
    return {campaign.key: campaign for campaign in found}


async def list_campaigns(
    *,
    project_id: str,
    first: int,
    after: str | None,
    kind: CampaignKind | None = None,
    status: CampaignStatus | None = None,
) -> Page[Campaign]:
    query: dict[str, Any] = {"project_id": project_id}
    if kind is not None:
        query["kind"] = kind.value
    if status is not None:
        query["status"] = status.value
    return await paginate(Campaign, query, first, after)

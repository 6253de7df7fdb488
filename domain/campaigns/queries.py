"""Reading campaigns: one by id, several at once, a page of a project's campaigns (oldest or
newest first), and how many there are per status."""

from datetime import datetime
from typing import Any

from domain.campaigns.models import Campaign, CampaignKind, CampaignStatus
from domain.common import object_id, object_ids
from domain.errors import NotFound
from domain.pagination import Page, decode_cursor, paginate


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


async def newest_campaigns(
    *,
    project_id: str,
    first: int,
    before: str | None,
    kind: CampaignKind | None = None,
    status: CampaignStatus | None = None,
) -> Page[Campaign]:
    """Newest first, for people; `before` is the cursor of the last campaign already shown."""
    query: dict[str, Any] = {"project_id": project_id}
    if kind is not None:
        query["kind"] = kind.value
    if status is not None:
        query["status"] = status.value
    page_query = dict(query)
    if before:
        page_query["_id"] = {"$lt": decode_cursor(before)}
    rows = await Campaign.find(page_query).sort("-_id").limit(first + 1).to_list()

    async def total() -> int:
        return await Campaign.get_pymongo_collection().count_documents(query)

    return Page(items=rows[:first], has_next=len(rows) > first, total=total)


async def campaigns_per_status(*, project_id: str) -> dict[CampaignStatus, int]:
    """How many of the project's campaigns are in each status (zero included)."""
    cursor = await Campaign.get_pymongo_collection().aggregate(
        [{"$match": {"project_id": project_id}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    )
    counted = {str(row["_id"]): int(row["n"]) async for row in cursor}
    return {status: counted.get(status.value, 0) for status in CampaignStatus}


async def campaigns_ending(*, project_id: str, after: datetime, before: datetime) -> int:
    """Active campaigns whose end falls in (after, before]: the ones about to stop."""
    return await Campaign.get_pymongo_collection().count_documents(
        {
            "project_id": project_id,
            "status": CampaignStatus.ACTIVE.value,
            "ends_at": {"$gt": after, "$lte": before},
        }
    )

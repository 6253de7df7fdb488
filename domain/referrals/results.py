"""What a referral program has produced: its referrals page by page, and their totals."""

import contextlib
from dataclasses import dataclass
from typing import Any

from domain.campaigns import get_campaign
from domain.pagination import Page, paginate
from domain.referrals.models import Referral, ReferralCode, ReferralStatus


async def list_referrals(
    *, project_id: str, campaign_id: str, referrer_id: str | None, first: int, after: str | None
) -> Page[Referral]:
    campaign = await get_campaign(project_id, campaign_id)
    query: dict[str, Any] = {
        "project_id": project_id,
        "campaign_id": campaign.key,
        "confirmed": True,
    }
    if referrer_id:
        query["referrer_id"] = referrer_id
    return await paginate(Referral, query, first, after)


@dataclass
class ReferralTotals:
    clicks: int = 0
    referrals: int = 0
    pending: int = 0
    qualified: int = 0
    rewarded: int = 0
    cancelled: int = 0


async def referral_totals(
    *, project_id: str, campaign_id: str, referrer_id: str | None = None
) -> ReferralTotals:
    campaign = await get_campaign(project_id, campaign_id)
    scope: dict[str, Any] = {"project_id": project_id, "campaign_id": campaign.key}
    if referrer_id:
        scope["referrer_id"] = referrer_id
    totals = ReferralTotals()
    by_status = Referral.get_pymongo_collection().aggregate(
        [{"$match": {**scope, "confirmed": True}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    )
    async for row in await by_status:
        count = int(row["n"])
        totals.referrals += count
        with contextlib.suppress(ValueError):
            name = ReferralStatus(row["_id"]).value.lower()
            setattr(totals, name, getattr(totals, name) + count)
    clicks = ReferralCode.get_pymongo_collection().aggregate(
        [{"$match": scope}, {"$group": {"_id": None, "n": {"$sum": "$clicks"}}}]
    )
    async for row in await clicks:
        totals.clicks += int(row["n"])
    return totals


async def top_referrers(
    *, project_id: str, campaign_id: str, limit: int = 10
) -> list[ReferralCode]:
    """The program's referrers who brought the most referees (their codes' counters), most
    first; ties by the code made first."""
    campaign = await get_campaign(project_id, campaign_id)
    return (
        await ReferralCode.find(
            {"project_id": project_id, "campaign_id": campaign.key, "referrals_count": {"$gt": 0}}
        )
        .sort("-referrals_count", "+_id")
        .limit(limit)
        .to_list()
    )

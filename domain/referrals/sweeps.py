"""The sweep that releases held referral rewards and finishes those a crash left."""

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from domain.campaigns import Campaign
from domain.common import as_utc, utc_now
from domain.referrals.models import Referral, ReferralStatus
from domain.referrals.rewards import emit_pending_qualified, give_reward, grant_reward

# A reward still being given after this long was left by a process that died.
REWARD_LEASE = timedelta(seconds=30)


async def release_due_rewards(*, now: datetime | None = None, project_id: str | None = None) -> int:
    """Grants every held reward whose hold has passed, finishes rewards a crash left and emits
    the referral.qualified events one left; returns how many it granted. Safe to run anywhere,
    any time: each reward is given once, each event stored once."""
    moment = as_utc(now) if now is not None else utc_now()
    scope: dict[str, Any] = {"project_id": project_id} if project_id else {}
    granted = 0
    # Before the rewards: an endpoint hears that a referral qualified before it was rewarded.
    await emit_pending_qualified(now=now, scope=scope)
    due = await Referral.find(
        {**scope, "status": ReferralStatus.QUALIFIED.value, "release_at": {"$lte": moment}}
    ).to_list()
    campaigns: dict[str, Campaign | None] = {}
    for referral in due:
        campaign = await _cached_campaign(referral, campaigns)
        if campaign is not None and await grant_reward(
            referral_id=referral.key, campaign=campaign, now=moment
        ):
            granted += 1
    stalled = await Referral.find(
        {**scope, "reward_pending": True, "rewarded_at": {"$lt": utc_now() - REWARD_LEASE}}
    ).to_list()
    for referral in stalled:
        campaign = await _cached_campaign(referral, campaigns)
        if campaign is not None:
            await give_reward(referral=referral, campaign=campaign)
    return granted


async def _cached_campaign(referral: Referral, seen: dict[str, Campaign | None]) -> Campaign | None:
    if referral.campaign_id not in seen:
        seen[referral.campaign_id] = await Campaign.find_one(
            {"_id": ObjectId(referral.campaign_id), "project_id": referral.project_id}
        )
    return seen[referral.campaign_id]

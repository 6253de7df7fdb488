"""The project overview: today, the last days, top campaigns, loyalty and referrals."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.analytics.buckets import HOUR, Buckets, Source, Window, event_rows
from domain.analytics.campaign_figures import CONVERTED_REFERRALS, campaign_order_source
from domain.analytics.currencies import NO_CURRENCY, by_currency, configured_currency
from domain.campaigns import Campaign, CampaignKind, CampaignStatus
from domain.common import Money, as_utc, utc_now
from domain.loyalty import LoyaltyCard
from domain.projects import get_project
from domain.redemptions import Redemption, RedemptionStatus
from domain.referrals import Referral, ReferralCode

TOP_CAMPAIGNS_DAYS = 30


@dataclass(frozen=True)
class TopCampaign:
    campaign: Campaign
    redeemed: int
    # The end of the 30 days counted.
    until: datetime

    async def revenue(self) -> Money:
        """What the campaign's paid orders of the same 30 days brought, in its currency."""
        campaign = self.campaign
        orders = await event_rows(
            source=campaign_order_source(project_id=campaign.project_id, campaign_id=campaign.key),
            buckets=Buckets.for_zone(campaign.timezone, self.until),
            window=Window(self.until - timedelta(days=TOP_CAMPAIGNS_DAYS), self.until + HOUR),
        )
        revenue, counts = by_currency(rows=orders, index=0)
        currency = (
            configured_currency(campaign)
            or next(iter(c for c, _ in counts.most_common(1)), None)
            or NO_CURRENCY
        )
        return Money(amount=revenue[currency], currency=currency)


@dataclass(frozen=True)
class ProgramPoints:
    campaign: Campaign
    points: int
    cards: int


@dataclass(frozen=True)
class ProgramReferrals:
    campaign: Campaign
    clicks: int
    conversions: int

    @property
    def rate(self) -> float:
        return self.conversions / self.clicks if self.clicks else 0.0


@dataclass
class Overview:
    timezone: str
    active_campaigns: int
    redemptions_today: int
    top_campaigns: list[TopCampaign]
    points_by_program: list[ProgramPoints]
    referrals_by_program: list[ProgramReferrals]

    @property
    def points_outstanding(self) -> int:
        return sum(program.points for program in self.points_by_program)

    @property
    def referral_clicks(self) -> int:
        return sum(program.clicks for program in self.referrals_by_program)

    @property
    def referral_conversions(self) -> int:
        return sum(program.conversions for program in self.referrals_by_program)

    @property
    def referral_conversion(self) -> float:
        clicks = self.referral_clicks
        return self.referral_conversions / clicks if clicks else 0.0


def _day_keys(moment: datetime, before: int, after: int) -> list[str]:
    """Calendar days around `moment` wide enough to hold it in every time zone (UTC±14)."""
    day = as_utc(moment).date()
    return [(day + timedelta(days=offset)).isoformat() for offset in range(-before - 2, after + 3)]


async def _grouped_sum(collection: Any, match: dict[str, Any], key: str, value: Any) -> dict:
    cursor = await collection.aggregate(
        [{"$match": match}, {"$group": {"_id": f"${key}", "n": {"$sum": value}, "c": {"$sum": 1}}}]
    )
    return {str(row["_id"]): (int(row["n"]), int(row["c"])) async for row in cursor}


async def project_overview(
    *, project_id: str, now: datetime | None = None, top: int = 5
) -> Overview:
    """Active campaigns, today's redemptions (in the project's messaging time zone), the most
    redeemed campaigns of the last 30 days (most first), the loyalty liability and referral
    conversion."""
    moment = as_utc(now) if now is not None else utc_now()
    project = await get_project(project_id)
    campaigns = {
        campaign.key: campaign
        for campaign in await Campaign.find({"project_id": project_id}).to_list()
    }
    active = sum(
        1
        for c in campaigns.values()
        if c.status == CampaignStatus.ACTIVE
        and (c.starts_at is None or as_utc(c.starts_at) <= moment)
        and (c.ends_at is None or moment < as_utc(c.ends_at))
    )
    buckets = Buckets.for_zone(project.messaging.timezone, moment)
    local_midnight = datetime.combine(
        moment.astimezone(buckets.zone).date(), datetime.min.time(), buckets.zone
    ).astimezone(UTC)
    # A redemption's `day` is its campaign's local day, within a day of any other zone's:
    # matching on it keeps the scan to the redemptions of the days asked about.
    redeemed = Redemption.get_pymongo_collection()
    succeeded = {"project_id": project_id, "status": RedemptionStatus.SUCCEEDED.value}
    today = await event_rows(
        source=Source(
            redeemed,
            succeeded,
            "completed_at",
            narrowing={"day": {"$in": _day_keys(moment, 1, 0)}},
        ),
        buckets=buckets,
        window=Window(local_midnight, moment + HOUR),
    )
    recent = await event_rows(
        source=Source(
            redeemed,
            succeeded,
            "completed_at",
            ("campaign_id",),
            narrowing={"day": {"$in": _day_keys(moment, TOP_CAMPAIGNS_DAYS, 0)}},
        ),
        buckets=buckets,
        window=Window(moment - timedelta(days=TOP_CAMPAIGNS_DAYS), moment + HOUR),
    )
    by_campaign: Counter[str] = Counter()
    for row in recent:
        if row.parts[0] in campaigns:
            by_campaign[row.parts[0]] += row.count
    ranked = sorted(by_campaign.items(), key=lambda item: (-item[1], item[0]))
    top_campaigns = [TopCampaign(campaigns[key], count, moment) for key, count in ranked]

    points = await _grouped_sum(
        LoyaltyCard.get_pymongo_collection(), {"project_id": project_id}, "campaign_id", "$balance"
    )
    clicks = await _grouped_sum(
        ReferralCode.get_pymongo_collection(), {"project_id": project_id}, "campaign_id", "$clicks"
    )
    conversions = await _grouped_sum(
        Referral.get_pymongo_collection(),
        {
            "project_id": project_id,
            "confirmed": True,
            "status": {"$in": [s.value for s in CONVERTED_REFERRALS]},
        },
        "campaign_id",
        1,
    )
    programs = sorted(
        (c for c in campaigns.values() if c.kind == CampaignKind.LOYALTY),
        key=lambda c: c.created_at,
    )
    referral_programs = sorted(
        (c for c in campaigns.values() if c.kind == CampaignKind.REFERRAL),
        key=lambda c: c.created_at,
    )
    return Overview(
        timezone=buckets.zone.key,
        active_campaigns=active,
        redemptions_today=sum(row.count for row in today),
        top_campaigns=top_campaigns,
        points_by_program=[ProgramPoints(c, *points.get(c.key, (0, 0))) for c in programs],
        referrals_by_program=[
            ProgramReferrals(c, clicks.get(c.key, (0, 0))[0], conversions.get(c.key, (0, 0))[0])
            for c in referral_programs
        ],
    )

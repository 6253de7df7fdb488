"""GraphQL for campaign statistics and the project overview."""

from datetime import date, datetime
from typing import Annotated

import strawberry

from domain import analytics
from domain.common import Money as DomainMoney
from schema.campaigns import CampaignType
from schema.context import Info
from schema.messages import MessageChannelEnum
from schema.permissions import IsAdmin
from schema.types import Long, Money, MoneyTotal


def _money(value: DomainMoney) -> Money:
    return Money(amount=value.amount, currency=value.currency)


def _total(value: DomainMoney) -> MoneyTotal:
    return MoneyTotal(amount=Long(value.amount), currency=value.currency)


def _maybe_money(value: DomainMoney | None) -> Money | None:
    return None if value is None else _money(value)


@strawberry.type(
    name="ChannelStats",
    description="A campaign's messages on one channel in the stats window.",
)
class ChannelStatsType:
    channel: MessageChannelEnum = strawberry.field(description="The channel counted.")
    sent: int = strawberry.field(description="Messages that left: SENT, DELIVERED, UNDELIVERED.")
    delivered: int = strawberry.field(
        description="SENT or DELIVERED: not reported undelivered (email is never confirmed)."
    )
    undelivered: int = strawberry.field(description="Messages the provider reported undelivered.")
    redeemed: int = strawberry.field(
        description="Redemptions attributed to a message of this channel."
    )


@strawberry.type(
    name="DailyCampaignStats",
    description="A campaign's figures for one day of its time zone.",
)
class DailyStatsType:
    day: date = strawberry.field(description="A calendar day in the campaign's time zone.")
    published: int = strawberry.field(description="Codes given to customers that day.")
    validated: int = strawberry.field(
        description="validateCode calls about the campaign's codes that day."
    )
    redeemed: int = strawberry.field(
        description="Redemptions completed that day and not rolled back."
    )
    revenue: MoneyTotal = strawberry.field(
        description=(
            "What paid orders with a code of the campaign paid that day, in the "
            "campaign's currency."
        )
    )
    discount_cost: MoneyTotal = strawberry.field(
        description="Discounts given that day, in the campaign's currency."
    )


@strawberry.type(
    name="CampaignStats",
    description=(
        "What a campaign did in a time window: codes, messages, passes, redemptions and "
        "money. Money is in minor units. Readable by admin keys."
    ),
)
class CampaignStatsType:
    doc: strawberry.Private[analytics.CampaignStats]

    @strawberry.field(description="The campaign.")
    def campaign(self) -> CampaignType:
        return CampaignType.from_doc(self.doc.campaign)

    @strawberry.field(
        name="from",
        description=(
            "The window's start, UTC ISO 8601 (inclusive); null: the campaign's beginning."
        ),
    )
    def from_(self) -> datetime | None:
        return self.doc.window.start

    @strawberry.field(description="The window's end, UTC ISO 8601 (exclusive); null: now.")
    def to(self) -> datetime | None:
        return self.doc.window.end

    @strawberry.field(
        description="The campaign's currency (its discount's or minimum order's; else the one "
        "most of its orders use; XXX, ISO 4217's code for no currency, when there is none): "
        "money figures are in it."
    )
    def currency(self) -> str:
        return self.doc.currency

    @strawberry.field(description="Codes made for the campaign, whenever (not windowed).")
    def issued(self) -> int:
        return self.doc.issued

    @strawberry.field(description="Codes assigned to customers in the window.")
    def published(self) -> int:
        return self.doc.published

    @strawberry.field(description="Messages delivered, every channel.")
    def delivered(self) -> int:
        return self.doc.delivered

    @strawberry.field(name="deliveredByChannel", description="The window's messages per channel.")
    def delivered_by_channel(self) -> list[ChannelStatsType]:
        return [
            ChannelStatsType(
                channel=MessageChannelEnum(row.channel.value),
                sent=row.sent,
                delivered=row.delivered,
                undelivered=row.undelivered,
                redeemed=row.redeemed,
            )
            for row in self.doc.channels
        ]

    @strawberry.field(description="Wallet passes of the campaign's codes first downloaded.")
    def passes_added(self) -> int:
        return self.doc.passes_added

    @strawberry.field(description="Apple Wallet devices that registered one of those passes.")
    def apple_registrations(self) -> int:
        return self.doc.apple_registrations

    @strawberry.field(
        description="Passes created in the window whose Google Wallet link was opened."
    )
    def google_issued(self) -> int:
        return self.doc.google_issued

    @strawberry.field(
        description="validateCode calls about the campaign's codes (counted per hour: the "
        "hours the window's ends cut count whole)."
    )
    def validated(self) -> int:
        return self.doc.validated

    @strawberry.field(description="Redemptions completed and not rolled back.")
    def redeemed(self) -> int:
        return self.doc.redeemed

    @strawberry.field(description="Redemptions completed in the window and rolled back since.")
    def rolled_back(self) -> int:
        return self.doc.rolled_back

    @strawberry.field(description="redeemed / published; 0 when nothing was published.")
    def redemption_rate(self) -> float:
        return self.doc.redemption_rate

    @strawberry.field(description="Paid orders that used a code of the campaign.")
    def orders_attributed(self) -> int:
        return self.doc.orders_attributed

    @strawberry.field(description="What those orders paid, in the campaign's currency.")
    def revenue(self) -> MoneyTotal:
        return _total(self.doc.revenue)

    @strawberry.field(description="What those orders paid, per currency.")
    def revenue_by_currency(self) -> list[MoneyTotal]:
        return [_total(value) for value in self.doc.revenue_by_currency]

    @strawberry.field(description="Discounts given by the redemptions, in the campaign's currency.")
    def discount_cost(self) -> MoneyTotal:
        return _total(self.doc.discount_cost)

    @strawberry.field(description="Discounts given by the redemptions, per currency.")
    def discount_cost_by_currency(self) -> list[MoneyTotal]:
        return [_total(value) for value in self.doc.discount_by_currency]

    @strawberry.field(
        description="(revenue - discountCost) / discountCost in the campaign's currency; null "
        "when nothing was discounted."
    )
    def roi(self) -> float | None:
        return self.doc.roi

    @strawberry.field(
        description="The average paid order with a code of the campaign, in its currency; null "
        "without any."
    )
    def average_basket(self) -> Money | None:
        return _maybe_money(self.doc.average_basket)

    @strawberry.field(description="Paid orders in the window without any code of the campaign.")
    def orders_without(self) -> int:
        return self.doc.orders_without

    @strawberry.field(
        description="The average of those orders, in the campaign's currency; null without any."
    )
    def average_basket_without(self) -> Money | None:
        return _maybe_money(self.doc.average_basket_without)

    @strawberry.field(description="Per day of the campaign's time zone, first to last active.")
    def daily(self) -> list[DailyStatsType]:
        return [
            DailyStatsType(
                day=row.day,
                published=row.published,
                validated=row.validated,
                redeemed=row.redeemed,
                revenue=_total(row.revenue),
                discount_cost=_total(row.discount_cost),
            )
            for row in self.doc.daily
        ]


@strawberry.type(
    name="TopCampaign",
    description="A campaign among the most redeemed of the last 30 days.",
)
class TopCampaignType:
    row: strawberry.Private[analytics.TopCampaign]

    @strawberry.field(description="The campaign.")
    def campaign(self) -> CampaignType:
        return CampaignType.from_doc(self.row.campaign)

    @strawberry.field(description="Redemptions of the last 30 days, not rolled back.")
    def redeemed(self) -> int:
        return self.row.redeemed

    @strawberry.field(description="Its paid orders of the same 30 days, in its currency.")
    async def revenue(self) -> MoneyTotal:
        return _total(await self.row.revenue())


@strawberry.type(
    name="ProgramPoints",
    description="The points outstanding in one loyalty program.",
)
class ProgramPointsType:
    campaign: CampaignType = strawberry.field(description="The LOYALTY campaign.")
    points: int = strawberry.field(
        description="Points on every card of the program (the liability)."
    )
    cards: int = strawberry.field(description="How many cards the program has.")


@strawberry.type(
    name="ProgramReferrals",
    description="How one referral program converts.",
)
class ProgramReferralsType:
    campaign: CampaignType = strawberry.field(description="The REFERRAL campaign.")
    clicks: int = strawberry.field(description="Visits of the program's referral links.")
    conversions: int = strawberry.field(description="Referrals QUALIFIED or REWARDED.")
    rate: float = strawberry.field(description="conversions / clicks; 0 without clicks.")


@strawberry.type(
    name="ProjectOverview",
    description=(
        "The project at a glance: campaigns, today's redemptions, loyalty and referrals. "
        "Readable by admin keys."
    ),
)
class ProjectOverviewType:
    doc: strawberry.Private[analytics.Overview]

    @strawberry.field(description="The zone `today` is read in: the project's messaging zone.")
    def timezone(self) -> str:
        return self.doc.timezone

    @strawberry.field(description="Running now: active status, started and not ended.")
    def active_campaigns(self) -> int:
        return self.doc.active_campaigns

    @strawberry.field(description="Redemptions completed since midnight, not rolled back.")
    def redemptions_today(self) -> int:
        return self.doc.redemptions_today

    @strawberry.field(description="The most redeemed campaigns of the last 30 days.")
    def top_campaigns(
        self,
        first: Annotated[
            int,
            strawberry.argument(
                description=(
                    "How many campaigns to return (5 by default); a negative number returns none."
                )
            ),
        ] = 5,
    ) -> list[TopCampaignType]:
        return [TopCampaignType(row=row) for row in self.doc.top_campaigns[: max(0, first)]]

    @strawberry.field(description="The loyalty liability: points on every card, all programs.")
    def points_outstanding(self) -> int:
        return self.doc.points_outstanding

    @strawberry.field(description="Points outstanding per loyalty program.")
    def points_by_program(self) -> list[ProgramPointsType]:
        return [
            ProgramPointsType(
                campaign=CampaignType.from_doc(row.campaign), points=row.points, cards=row.cards
            )
            for row in self.doc.points_by_program
        ]

    @strawberry.field(
        description="Qualified or rewarded referrals per referral-link click, all programs; 0 "
        "without clicks."
    )
    def referral_conversion(self) -> float:
        return self.doc.referral_conversion

    @strawberry.field(description="Clicks and conversions per referral program.")
    def referrals_by_program(self) -> list[ProgramReferralsType]:
        return [
            ProgramReferralsType(
                campaign=CampaignType.from_doc(row.campaign),
                clicks=row.clicks,
                conversions=row.conversions,
                rate=row.rate,
            )
            for row in self.doc.referrals_by_program
        ]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="What a campaign did in [from, to) (its whole life without them).",
    )
    async def campaign_stats(
        self,
        info: Info,
        campaign_id: Annotated[strawberry.ID, strawberry.argument(description="The campaign.")],
        from_: Annotated[
            datetime | None,
            strawberry.argument(
                name="from",
                description="The window's start, ISO 8601, inclusive; null: the campaign's "
                "beginning.",
            ),
        ] = None,
        to: Annotated[
            datetime | None,
            strawberry.argument(description="The window's end, ISO 8601, exclusive; null: now."),
        ] = None,
    ) -> CampaignStatsType:
        stats = await analytics.campaign_stats(
            project_id=info.context.project_id, campaign_id=str(campaign_id), start=from_, end=to
        )
        return CampaignStatsType(doc=stats)

    @strawberry.field(permission_classes=[IsAdmin], description="The project at a glance.")
    async def project_overview(self, info: Info) -> ProjectOverviewType:
        overview = await analytics.project_overview(project_id=info.context.project_id)
        return ProjectOverviewType(doc=overview)

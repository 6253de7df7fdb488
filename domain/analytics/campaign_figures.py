"""A campaign's statistics over a window: issued, delivered, redeemed, money, per day."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.analytics.buckets import Buckets, Row, Source, Window, event_rows
from domain.analytics.currencies import (
    NO_CURRENCY,
    average,
    by_currency,
    configured_currency,
    money_list,
)
from domain.analytics.validations import ValidationCounter
from domain.campaigns import Campaign, get_campaign
from domain.codes import Code
from domain.common import Money, as_utc, utc_now
from domain.messages import Message, MessageChannel, MessageStatus
from domain.orders import Order, OrderStatus
from domain.redemptions import Redemption, RedemptionStatus
from domain.referrals import ReferralStatus
from domain.wallet import PassKind, PassRegistration, WalletPass

CUSTOMER_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)
# Messages that left us; UNDELIVERED ones are sent but not delivered.
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
DELIVERED_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)
CONVERTED_REFERRALS = (ReferralStatus.QUALIFIED, ReferralStatus.REWARDED)


@dataclass(frozen=True)
class ChannelStats:
    channel: MessageChannel
    sent: int
    delivered: int
    undelivered: int
    redeemed: int


@dataclass(frozen=True)
class DayStats:
    day: date
    published: int
    validated: int
    redeemed: int
    revenue: Money
    discount_cost: Money


@dataclass
class CampaignStats:
    campaign: Campaign
    window: Window
    currency: str
    issued: int
    published: int
    channels: list[ChannelStats]
    passes_added: int
    apple_registrations: int
    google_issued: int
    validated: int
    redeemed: int
    rolled_back: int
    orders_attributed: int
    revenue: Money
    revenue_by_currency: list[Money]
    discount_cost: Money
    discount_by_currency: list[Money]
    average_basket: Money | None
    orders_without: int
    average_basket_without: Money | None
    daily: list[DayStats] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(channel.delivered for channel in self.channels)

    @property
    def redemption_rate(self) -> float:
        return self.redeemed / self.published if self.published else 0.0

    @property
    def roi(self) -> float | None:
        cost = self.discount_cost.amount
        return None if cost == 0 else (self.revenue.amount - cost) / cost


def _window(start: datetime | None, end: datetime | None) -> Window:
    return Window(as_utc(start) if start else None, as_utc(end) if end else None)


def campaign_order_source(*, project_id: str, campaign_id: str) -> Source:
    return Source(
        Order.get_pymongo_collection(),
        {
            "project_id": project_id,
            "campaign_ids": {"$in": [campaign_id]},
            "status": OrderStatus.PAID.value,
        },
        "created_at",
        ("amount.currency",),
        "amount.amount",
    )


async def campaign_stats(
    *,
    project_id: str,
    campaign_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> CampaignStats:
    """Everything a campaign did in [start, end) (all of its life without them)."""
    campaign = await get_campaign(project_id, campaign_id)
    window = _window(start, end)
    buckets = Buckets.for_zone(campaign.timezone, window.end or utc_now())
    scope = {"project_id": project_id, "campaign_id": campaign.key}

    published_rows = await event_rows(
        source=Source(Code.get_pymongo_collection(), {**scope, "assigned": True}, "published_at"),
        buckets=buckets,
        window=window,
    )
    message_rows = await event_rows(
        source=Source(
            Message.get_pymongo_collection(),
            {**scope, "status": {"$in": [s.value for s in SENT_STATUSES]}},
            "sent_at",
            ("channel", "status"),
        ),
        buckets=buckets,
        window=window,
    )
    pass_rows = await event_rows(
        source=Source(
            WalletPass.get_pymongo_collection(),
            {**scope, "kind": PassKind.COUPON.value},
            "created_at",
        ),
        buckets=buckets,
        window=window,
    )
    google_rows = await event_rows(
        source=Source(
            WalletPass.get_pymongo_collection(),
            {**scope, "kind": PassKind.COUPON.value, "google_issued": True},
            "created_at",
        ),
        buckets=buckets,
        window=window,
    )
    registration_rows = await event_rows(
        source=Source(PassRegistration.get_pymongo_collection(), scope, "created_at"),
        buckets=buckets,
        window=window,
    )
    validated_by_bucket = await _validations(scope, buckets, window)
    redemption_rows = await event_rows(
        source=Source(
            Redemption.get_pymongo_collection(),
            {
                **scope,
                "status": {
                    "$in": [RedemptionStatus.SUCCEEDED.value, RedemptionStatus.ROLLED_BACK.value]
                },
            },
            "completed_at",
            ("status", "discount.currency", "message_channel"),
            "discount.amount",
        ),
        buckets=buckets,
        window=window,
    )
    order_rows = await event_rows(
        source=campaign_order_source(project_id=project_id, campaign_id=campaign.key),
        buckets=buckets,
        window=window,
    )
    all_order_rows = await event_rows(
        source=Source(
            Order.get_pymongo_collection(),
            {"project_id": project_id, "status": OrderStatus.PAID.value},
            "created_at",
            ("amount.currency",),
            "amount.amount",
        ),
        buckets=buckets,
        window=window,
    )

    succeeded = [r for r in redemption_rows if r.parts[0] == RedemptionStatus.SUCCEEDED.value]
    revenue, orders_by_currency = by_currency(rows=order_rows, index=0)
    discounts, redemptions_by_currency = by_currency(rows=succeeded, index=1)
    all_revenue, all_orders = by_currency(rows=all_order_rows, index=0)
    currency = (
        configured_currency(campaign)
        or next(iter(c for c, _ in orders_by_currency.most_common(1)), None)
        or next(iter(c for c, _ in redemptions_by_currency.most_common(1)), None)
        or NO_CURRENCY
    )
    orders_with = orders_by_currency[currency]
    orders_without = all_orders[currency] - orders_with
    revenue_without = all_revenue[currency] - revenue[currency]

    channels = []
    for channel in CUSTOMER_CHANNELS:
        by_status: Counter[str] = Counter()
        for row in message_rows:
            if row.parts[0] == channel.value:
                by_status[row.parts[1]] += row.count
        channels.append(
            ChannelStats(
                channel=channel,
                sent=sum(by_status[s.value] for s in SENT_STATUSES),
                delivered=sum(by_status[s.value] for s in DELIVERED_STATUSES),
                undelivered=by_status[MessageStatus.UNDELIVERED.value],
                redeemed=sum(r.count for r in succeeded if r.parts[2] == channel.value),
            )
        )

    stats = CampaignStats(
        campaign=campaign,
        window=window,
        currency=currency,
        issued=campaign.codes_count,
        published=sum(r.count for r in published_rows),
        channels=channels,
        passes_added=sum(r.count for r in pass_rows),
        apple_registrations=sum(r.count for r in registration_rows),
        google_issued=sum(r.count for r in google_rows),
        validated=sum(validated_by_bucket.values()),
        redeemed=sum(r.count for r in succeeded),
        rolled_back=sum(r.count for r in redemption_rows) - sum(r.count for r in succeeded),
        orders_attributed=sum(orders_by_currency.values()),
        revenue=Money(amount=revenue[currency], currency=currency),
        revenue_by_currency=money_list(revenue),
        discount_cost=Money(amount=discounts[currency], currency=currency),
        discount_by_currency=money_list(discounts),
        average_basket=(
            Money(amount=average(total=revenue[currency], count=orders_with), currency=currency)
            if orders_with
            else None
        ),
        orders_without=sum(all_orders.values()) - sum(orders_by_currency.values()),
        average_basket_without=(
            Money(amount=average(total=revenue_without, count=orders_without), currency=currency)
            if orders_without
            else None
        ),
    )
    stats.daily = _daily(
        buckets,
        currency,
        published=published_rows,
        redeemed=succeeded,
        orders=order_rows,
        validated=validated_by_bucket,
    )
    return stats


async def _validations(
    scope: dict[str, Any], buckets: Buckets, window: Window
) -> dict[datetime, int]:
    """Validations per UTC hour; a counter cannot be split, so cut hours count whole."""
    cursor = await ValidationCounter.get_pymongo_collection().aggregate(
        [{"$match": scope}, {"$group": {"_id": "$hour", "n": {"$sum": "$validated"}}}]
    )
    counted: dict[datetime, int] = {}
    async for row in cursor:
        hour = datetime.fromtimestamp(int(row["_id"]) * 3600, UTC)
        if window.touches(hour):
            counted[hour] = counted.get(hour, 0) + int(row["n"])
    return counted


def _daily(
    buckets: Buckets,
    currency: str,
    published: list[Row],
    redeemed: list[Row],
    orders: list[Row],
    validated: dict[datetime, int],
) -> list[DayStats]:
    """One entry per day of the campaign's zone from the first to the last with any event."""
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in published:
        per_day[buckets.day_of(row.bucket)][0] += row.count
    for hour, count in validated.items():
        per_day[buckets.day_of(hour)][1] += count
    for row in redeemed:
        sums = per_day[buckets.day_of(row.bucket)]
        sums[2] += row.count
        if row.parts[1] == currency:
            sums[4] += row.amount
    for row in orders:
        if row.parts[0] == currency:
            per_day[buckets.day_of(row.bucket)][3] += row.amount
    if not per_day:
        return []
    first, last = min(per_day), max(per_day)
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        values = per_day.get(day, [0, 0, 0, 0, 0])
        days.append(
            DayStats(
                day=day,
                published=values[0],
                validated=values[1],
                redeemed=values[2],
                revenue=Money(amount=values[3], currency=currency),
                discount_cost=Money(amount=values[4], currency=currency),
            )
        )
    return days

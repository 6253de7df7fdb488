"""Campaign statistics and the project overview, computed with aggregation pipelines.

Every figure comes from a `$match` on plain equality fields followed by one `$group` on a key
built in a `$project` stage (the embedded server cannot group on expressions). Events are
bucketed per hour, and the few hundred hourly rows are folded into days and windows in Python.

The embedded server (nx-27017) compares dates wrongly inside an aggregation `$match`, ignores
`$dateToString`'s `timezone`, and runs any `$cond` or comparison a hundred times slower than a
plain `$group`. So windows are not matched in the pipeline: rows are per UTC hour (shifted by a
zone's odd minutes, so local midnights fall on a bucket's edge), whole hours inside the window
are kept, and the at most two hours the window's ends cut are recounted exactly with `find`,
whose date comparisons are right. This is the one place that works around those gaps.
"""

import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.campaigns import Campaign, CampaignKind, CampaignStatus, get_campaign
from domain.codes import Code
from domain.common import Money, as_utc, utc_now
from domain.discounts import Order as OrderInput
from domain.loyalty import LoyaltyCard
from domain.messages import Message, MessageChannel, MessageStatus
from domain.orders import Order, OrderStatus
from domain.projects import get_project
from domain.redemptions import Redemption, RedemptionStatus, Validation, validate_code
from domain.referrals import Referral, ReferralCode, ReferralStatus
from domain.wallet import PassKind, PassRegistration, WalletPass

HOUR = timedelta(hours=1)
# ISO 4217's code for "no currency": a campaign with no money anywhere in it yet.
NO_CURRENCY = "XXX"
CUSTOMER_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)
# Messages that left us; UNDELIVERED ones are sent but not delivered.
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
DELIVERED_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)
CONVERTED_REFERRALS = (ReferralStatus.QUALIFIED, ReferralStatus.REWARDED)
TOP_CAMPAIGNS_DAYS = 30
_LABEL = "%Y-%m-%dT%H"


class ValidationCounter(Document):
    """How often validateCode was asked about a campaign's codes in one UTC hour."""

    project_id: str
    campaign_id: str
    # Hours since 1970-01-01 UTC: a string that looks like a date would be read as one by the
    # embedded server's update filters.
    hour: int
    validated: int = 0

    class Settings:
        name = "validation_counters"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("hour", 1)],
                unique=True,
                name="project_campaign_hour_unique",
            )
        ]


async def count_validation(project_id: str, campaign_id: str, now: datetime) -> None:
    """One `$inc` once the hour's counter exists. The embedded server's upsert does not
    increment an existing document, so the first call of an hour creates it at 0 first (the
    unique index makes racing creators one document) and increments it then."""
    selector = {
        "project_id": project_id,
        "campaign_id": campaign_id,
        "hour": int(as_utc(now).timestamp()) // 3600,
    }
    collection = ValidationCounter.get_pymongo_collection()
    counted = await collection.update_one(selector, {"$inc": {"validated": 1}})
    if counted.matched_count:
        return
    with contextlib.suppress(DuplicateKeyError):
        await collection.update_one(selector, {"$setOnInsert": {"validated": 0}}, upsert=True)
    await collection.update_one(selector, {"$inc": {"validated": 1}})


async def validate_and_count(
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: OrderInput | None,
    now: datetime | None = None,
) -> Validation:
    """validate_code, counted per campaign when the code exists; the caller's data is untouched."""
    moment = as_utc(now) if now is not None else utc_now()
    result = await validate_code(project_id, raw_code, customer_id, order, moment)
    if result.code is not None:
        await count_validation(project_id, result.code.campaign_id, moment)
    return result


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; None for an open end."""

    start: datetime | None = None
    end: datetime | None = None

    def covers(self, bucket: datetime) -> bool:
        """Whether the whole hour starting at `bucket` lies inside."""
        return (self.start is None or self.start <= bucket) and (
            self.end is None or bucket + HOUR <= self.end
        )

    def touches(self, bucket: datetime) -> bool:
        return (self.start is None or self.start < bucket + HOUR) and (
            self.end is None or bucket < self.end
        )


@dataclass(frozen=True)
class Buckets:
    """Hourly buckets shifted by `shift` minutes, so that a zone's midnights start a bucket."""

    zone: ZoneInfo
    shift: int

    @classmethod
    def for_zone(cls, name: str, moment: datetime) -> "Buckets":
        zone = _zone(name)
        offset = as_utc(moment).astimezone(zone).utcoffset() or timedelta(0)
        return cls(zone=zone, shift=int(offset.total_seconds() // 60) % 60)

    def expression(self, time_field: str) -> dict[str, Any]:
        moment: Any = f"${time_field}"
        if self.shift:
            moment = {"$dateAdd": {"startDate": moment, "unit": "minute", "amount": self.shift}}
        return {"$dateToString": {"format": _LABEL, "date": moment}}

    def start_of(self, label: str) -> datetime:
        shifted = datetime.strptime(label, _LABEL).replace(tzinfo=UTC)
        return shifted - timedelta(minutes=self.shift)

    def bucket_of(self, moment: datetime) -> datetime:
        label = (as_utc(moment) + timedelta(minutes=self.shift)).strftime(_LABEL)
        return self.start_of(label)

    def day_of(self, bucket: datetime) -> date:
        return bucket.astimezone(self.zone).date()


@dataclass(frozen=True)
class Source:
    """Events of one kind: what to match, when each happened, what splits and what sums them."""

    collection: Any
    match: dict[str, Any]
    time_field: str
    parts: tuple[str, ...] = ()
    amount: str = ""
    # Conditions the window implies, which only narrow the pipeline's scan.
    narrowing: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    bucket: datetime
    parts: tuple[str, ...]
    count: int
    amount: int


def _dig(doc: Any, path: str) -> Any:
    for name in path.split("."):
        doc = doc.get(name) if isinstance(doc, dict) else None
    return doc


def _text(value: Any) -> str:
    return "" if value is None else str(value)


async def _grouped_rows(source: Source, buckets: Buckets) -> list[Row]:
    key: list[Any] = [buckets.expression(source.time_field)]
    for part in source.parts:
        key += ["|", {"$ifNull": [f"${part}", ""]}]
    projected: dict[str, Any] = {"_id": 0, "k": {"$concat": key}}
    sums: dict[str, Any] = {"n": {"$sum": 1}}
    if source.amount:
        projected["a"] = f"${source.amount}"
        sums["a"] = {"$sum": "$a"}
    cursor = await source.collection.aggregate(
        [
            {"$match": {**source.match, **source.narrowing}},
            {"$project": projected},
            {"$group": {"_id": "$k", **sums}},
        ]
    )
    rows = []
    async for row in cursor:
        if not isinstance(row["_id"], str):
            continue  # the event has no time (a message never sent): nothing to bucket
        label, *parts = row["_id"].split("|")
        rows.append(
            Row(buckets.start_of(label), tuple(parts), int(row["n"]), int(row.get("a") or 0))
        )
    return rows


def _equalities(match: dict[str, Any]) -> list[dict[str, Any]]:
    """The match as plain equalities, one query per `$in` value: the embedded server scans a
    `find` with `$in` beside a date range in Python, twenty times slower. Every `$in` here is
    on a scalar field or has one value (an array field), so no document matches twice."""
    queries: list[dict[str, Any]] = [{}]
    for name, wanted in match.items():
        values = wanted["$in"] if isinstance(wanted, dict) and "$in" in wanted else [wanted]
        queries = [{**query, name: value} for query in queries for value in values]
    return queries


async def _exact_rows(
    source: Source, buckets: Buckets, start: datetime, end: datetime
) -> list[Row]:
    """The events of one cut hour, read with find: bounded by an hour's events."""
    # Whole top-level fields: the embedded server leaves dotted projections out.
    paths = [source.time_field, *source.parts, *([source.amount] if source.amount else [])]
    fields = {path.split(".")[0]: 1 for path in paths}
    totals: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for match in _equalities(source.match):
        query = {**match, source.time_field: {"$gte": start, "$lt": end}}
        async for doc in source.collection.find(query, fields):
            parts = tuple(_text(_dig(doc, part)) for part in source.parts)
            totals[parts][0] += 1
            totals[parts][1] += int(_dig(doc, source.amount) or 0) if source.amount else 0
    bucket = buckets.bucket_of(start)
    return [Row(bucket, parts, n, amount) for parts, (n, amount) in totals.items()]


async def event_rows(source: Source, buckets: Buckets, window: Window) -> list[Row]:
    """Hourly rows of the events inside the window, exact at its ends."""
    kept = []
    cut: set[datetime] = set()
    for row in await _grouped_rows(source, buckets):
        if window.covers(row.bucket):
            kept.append(row)
        elif window.touches(row.bucket):
            cut.add(row.bucket)
    for bucket in sorted(cut):
        start = max(bucket, window.start) if window.start else bucket
        end = min(bucket + HOUR, window.end) if window.end else bucket + HOUR
        kept += await _exact_rows(source, buckets, start, end)
    return kept


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


def configured_currency(campaign: Campaign) -> str | None:
    """The currency the campaign's own money is in, if it has any."""
    discount = campaign.discount
    for value in (
        discount.amount_off if discount else None,
        discount.fixed_price if discount else None,
        discount.max_discount if discount else None,
        campaign.rules.min_order,
    ):
        if value is not None:
            return value.currency
    return None


def _average(total: int, count: int) -> int:
    return int((Decimal(total) / Decimal(count)).quantize(Decimal(1), ROUND_HALF_EVEN))


def _by_currency(rows: Iterable[Row], index: int) -> tuple[Counter[str], Counter[str]]:
    """(amount, count) per currency, the currency being parts[index]."""
    amounts: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for row in rows:
        currency = row.parts[index]
        if currency:
            amounts[currency] += row.amount
            counts[currency] += row.count
    return amounts, counts


def _money_list(amounts: Counter[str]) -> list[Money]:
    return [Money(amount=amounts[c], currency=c) for c in sorted(amounts)]


def _window(start: datetime | None, end: datetime | None) -> Window:
    return Window(as_utc(start) if start else None, as_utc(end) if end else None)


def campaign_order_source(project_id: str, campaign_id: str) -> Source:
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
        Source(Code.get_pymongo_collection(), {**scope, "assigned": True}, "published_at"),
        buckets,
        window,
    )
    message_rows = await event_rows(
        Source(
            Message.get_pymongo_collection(),
            {**scope, "status": {"$in": [s.value for s in SENT_STATUSES]}},
            "sent_at",
            ("channel", "status"),
        ),
        buckets,
        window,
    )
    pass_rows = await event_rows(
        Source(
            WalletPass.get_pymongo_collection(),
            {**scope, "kind": PassKind.COUPON.value},
            "created_at",
        ),
        buckets,
        window,
    )
    google_rows = await event_rows(
        Source(
            WalletPass.get_pymongo_collection(),
            {**scope, "kind": PassKind.COUPON.value, "google_issued": True},
            "created_at",
        ),
        buckets,
        window,
    )
    registration_rows = await event_rows(
        Source(PassRegistration.get_pymongo_collection(), scope, "created_at"), buckets, window
    )
    validated_by_bucket = await _validations(scope, buckets, window)
    redemption_rows = await event_rows(
        Source(
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
        buckets,
        window,
    )
    order_rows = await event_rows(campaign_order_source(project_id, campaign.key), buckets, window)
    all_order_rows = await event_rows(
        Source(
            Order.get_pymongo_collection(),
            {"project_id": project_id, "status": OrderStatus.PAID.value},
            "created_at",
            ("amount.currency",),
            "amount.amount",
        ),
        buckets,
        window,
    )

    succeeded = [r for r in redemption_rows if r.parts[0] == RedemptionStatus.SUCCEEDED.value]
    revenue, orders_by_currency = _by_currency(order_rows, 0)
    discounts, redemptions_by_currency = _by_currency(succeeded, 1)
    all_revenue, all_orders = _by_currency(all_order_rows, 0)
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
        revenue_by_currency=_money_list(revenue),
        discount_cost=Money(amount=discounts[currency], currency=currency),
        discount_by_currency=_money_list(discounts),
        average_basket=(
            Money(amount=_average(revenue[currency], orders_with), currency=currency)
            if orders_with
            else None
        ),
        orders_without=sum(all_orders.values()) - sum(orders_by_currency.values()),
        average_basket_without=(
            Money(amount=_average(revenue_without, orders_without), currency=currency)
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
            campaign_order_source(campaign.project_id, campaign.key),
            Buckets.for_zone(campaign.timezone, self.until),
            Window(self.until - timedelta(days=TOP_CAMPAIGNS_DAYS), self.until + HOUR),
        )
        revenue, counts = _by_currency(orders, 0)
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


async def project_overview(project_id: str, now: datetime | None = None, top: int = 5) -> Overview:
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
        Source(
            redeemed,
            succeeded,
            "completed_at",
            narrowing={"day": {"$in": _day_keys(moment, 1, 0)}},
        ),
        buckets,
        Window(local_midnight, moment + HOUR),
    )
    recent = await event_rows(
        Source(
            redeemed,
            succeeded,
            "completed_at",
            ("campaign_id",),
            narrowing={"day": {"$in": _day_keys(moment, TOP_CAMPAIGNS_DAYS, 0)}},
        ),
        buckets,
        Window(moment - timedelta(days=TOP_CAMPAIGNS_DAYS), moment + HOUR),
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

"""A project's recent days: redemptions and revenue per day against the period before, codes
handed out, and messages by channel and status (the console's dashboard)."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from domain.analytics.buckets import HOUR, Buckets, Row, Source, Window, event_rows
from domain.analytics.campaign_figures import CUSTOMER_CHANNELS
from domain.analytics.currencies import NO_CURRENCY, by_currency
from domain.codes import Code
from domain.common import Money, as_utc, utc_now
from domain.messages import Message, MessageStatus
from domain.orders import Order, OrderStatus
from domain.projects import get_project
from domain.redemptions import Redemption, RedemptionStatus


@dataclass(frozen=True)
class MessageCount:
    channel: str
    status: str
    count: int


@dataclass
class ProjectActivity:
    """`days` local days ending today in the project's time zone; every per-day list has one
    entry per day (zero when nothing happened), and `previous_*` the same for the days before."""

    timezone: str
    days: list[date]
    window: Window
    redeemed: list[int]
    previous_redeemed: list[int]
    # In `currency`, the currency most of the window's paid orders use.
    currency: str
    revenue: list[int]
    previous_revenue: list[int]
    revenue_by_currency: list[Money]
    published: int
    messages: list[MessageCount]

    @property
    def redeemed_total(self) -> int:
        return sum(self.redeemed)

    @property
    def redemption_rate(self) -> float:
        """Redemptions ÷ codes handed out to customers in the same days; 0 without any."""
        return self.redeemed_total / self.published if self.published else 0.0

    @property
    def revenue_total(self) -> Money:
        return Money(amount=sum(self.revenue), currency=self.currency)


def _per_day(rows: list[Row], buckets: Buckets, days: list[date], pick: str) -> list[int]:
    index = {day: position for position, day in enumerate(days)}
    values = [0] * len(days)
    for row in rows:
        position = index.get(buckets.day_of(row.bucket))
        if position is not None:
            values[position] += row.amount if pick == "amount" else row.count
    return values


def _day_keys(start: datetime, end: datetime) -> list[str]:
    """Calendar days from a day before `start` to a day after `end`: a redemption's `day` is
    its campaign's local day, within a day of any other zone's."""
    first, last = as_utc(start).date() - timedelta(days=2), as_utc(end).date() + timedelta(days=2)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


async def project_activity(
    *, project_id: str, days: int = 30, now: datetime | None = None
) -> ProjectActivity:
    """The last `days` local days, today included, and the `days` before them."""
    moment = as_utc(now) if now is not None else utc_now()
    project = await get_project(project_id)
    buckets = Buckets.for_zone(project.messaging.timezone, moment)
    today = moment.astimezone(buckets.zone).date()
    shown = [today - timedelta(days=days - 1 - n) for n in range(days)]
    before = [day - timedelta(days=days) for day in shown]

    def midnight(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), buckets.zone).astimezone(UTC)

    window = Window(midnight(shown[0]), moment + HOUR)
    both = Window(midnight(before[0]), window.end)
    redeemed_rows = await event_rows(
        source=Source(
            Redemption.get_pymongo_collection(),
            {"project_id": project_id, "status": RedemptionStatus.SUCCEEDED.value},
            "completed_at",
            narrowing={"day": {"$in": _day_keys(midnight(before[0]), moment)}},
        ),
        buckets=buckets,
        window=both,
    )
    order_rows = await event_rows(
        source=Source(
            Order.get_pymongo_collection(),
            {"project_id": project_id, "status": OrderStatus.PAID.value},
            "created_at",
            ("amount.currency",),
            "amount.amount",
        ),
        buckets=buckets,
        window=both,
    )
    published_rows = await event_rows(
        source=Source(
            Code.get_pymongo_collection(),
            {"project_id": project_id, "assigned": True},
            "published_at",
        ),
        buckets=buckets,
        window=window,
    )
    message_rows = await event_rows(
        source=Source(
            Message.get_pymongo_collection(),
            {
                "project_id": project_id,
                "channel": {"$in": [channel.value for channel in CUSTOMER_CHANNELS]},
            },
            "created_at",
            ("channel", "status"),
        ),
        buckets=buckets,
        window=window,
    )
    in_window = [row for row in order_rows if window.touches(row.bucket)]
    revenue, counts = by_currency(rows=in_window, index=0)
    currency = next(iter(c for c, _ in counts.most_common(1)), None) or NO_CURRENCY
    in_currency = [row for row in order_rows if row.parts[0] == currency]
    messages: Counter[tuple[str, str]] = Counter()
    for row in message_rows:
        messages[(row.parts[0], row.parts[1])] += row.count
    status_order = {status.value: n for n, status in enumerate(MessageStatus)}
    return ProjectActivity(
        timezone=buckets.zone.key,
        days=shown,
        window=window,
        redeemed=_per_day(redeemed_rows, buckets, shown, "count"),
        previous_redeemed=_per_day(redeemed_rows, buckets, before, "count"),
        currency=currency,
        revenue=_per_day(in_currency, buckets, shown, "amount"),
        previous_revenue=_per_day(in_currency, buckets, before, "amount"),
        revenue_by_currency=[Money(amount=revenue[c], currency=c) for c in sorted(revenue)],
        published=sum(row.count for row in published_rows),
        messages=[
            MessageCount(channel, status, count)
            for (channel, status), count in sorted(
                messages.items(), key=lambda item: (item[0][0], status_order.get(item[0][1], 99))
            )
        ],
    )

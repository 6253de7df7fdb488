"""Campaign statistics and the project overview against figures worked out by hand."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from domain.analytics import campaign_stats, project_overview, validate_and_count
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, Discount, DiscountType
from domain.codes import Code
from domain.common import Money
from domain.errors import NotFound
from domain.loyalty import LoyaltyCard
from domain.messages import Message, MessageChannel, MessageStatus
from domain.orders import Order, OrderInput, OrderStatus, record_order
from domain.projects import Project
from domain.redemptions import Redemption, RedemptionStatus
from domain.referrals import Referral, ReferralCode, ReferralStatus
from domain.wallet import PassKind, PassRegistration, WalletPass
from tests.factories import Tenant, eur


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


@dataclass
class Scenario:
    spring: Campaign
    other: Campaign


async def seed(project_id: str) -> Scenario:
    """Spring (Europe/Paris, UTC+2 in May, 5 EUR off), May 4 to 6 2026; the numbers in the
    tests below are worked out from exactly these documents."""
    spring = Campaign(
        project_id=project_id,
        name="Spring",
        timezone="Europe/Paris",
        discount=Discount(type=DiscountType.AMOUNT, amount_off=eur(500)),
        codes_count=6,
    )
    other = Campaign(
        project_id=project_id,
        name="Other",
        status=CampaignStatus.PAUSED,
        discount=Discount(type=DiscountType.AMOUNT, amount_off=eur(300)),
    )
    await spring.insert()
    await other.insert()
    sid = spring.key

    def code(name: str, published: datetime | None) -> Code:
        return Code(
            project_id=project_id,
            code=name,
            display=name,
            campaign_id=sid,
            customer_id=f"cust-{name}" if published else "",
            assigned=published is not None,
            published_at=published,
        )

    # D is published at 00:30 in Paris on May 4, still May 3 in UTC.
    await Code.insert_many(
        [
            code("SPRA", at(4, 8)),
            code("SPRB", at(4, 8)),
            code("SPRC", at(4, 8)),
            code("SPRD", datetime(2026, 5, 3, 22, 30, tzinfo=UTC)),
            code("SPRE", at(5, 10)),
            code("SPRF", None),
        ]
    )

    def message(
        channel: MessageChannel, status: MessageStatus, sent: datetime | None, campaign: str = sid
    ) -> Message:
        return Message(
            project_id=project_id,
            channel=channel,
            status=status,
            campaign_id=campaign,
            sent_at=sent,
        )

    await Message.insert_many(
        [
            message(MessageChannel.EMAIL, MessageStatus.SENT, at(4, 9)),
            message(MessageChannel.EMAIL, MessageStatus.SENT, at(4, 13)),
            message(MessageChannel.SMS, MessageStatus.DELIVERED, at(4, 9)),
            message(MessageChannel.SMS, MessageStatus.UNDELIVERED, at(4, 9, 30)),
            message(MessageChannel.SMS, MessageStatus.FAILED, None),
            message(MessageChannel.EMAIL, MessageStatus.QUEUED, None),
            message(MessageChannel.EMAIL, MessageStatus.SENT, at(4, 9), campaign=other.key),
        ]
    )

    def redemption(
        code_value: str, status: RedemptionStatus, done: datetime, day: str, channel: str = ""
    ) -> Redemption:
        return Redemption(
            project_id=project_id,
            code=code_value,
            code_id=code_value,
            campaign_id=sid,
            discount=eur(500),
            status=status,
            day=day,
            created_at=done,
            completed_at=done,
            message_channel=channel,
        )

    await Redemption.insert_many(
        [
            redemption("SPRA", RedemptionStatus.SUCCEEDED, at(4, 12), "2026-05-04", "EMAIL"),
            # 23:30 in Paris on May 5.
            redemption("SPRB", RedemptionStatus.SUCCEEDED, at(5, 21, 30), "2026-05-05"),
            redemption("SPRC", RedemptionStatus.ROLLED_BACK, at(5, 12), "2026-05-05", "SMS"),
            # 00:30 in Paris on May 6.
            redemption("SPRD", RedemptionStatus.SUCCEEDED, at(5, 22, 30), "2026-05-06", "SMS"),
            redemption("SPRE", RedemptionStatus.PENDING, at(5, 12), "2026-05-05"),
        ]
    )

    def order(
        name: str,
        amount: Money,
        created: datetime,
        campaigns: list[str],
        status: OrderStatus = OrderStatus.PAID,
    ) -> Order:
        return Order(
            project_id=project_id,
            order_id=name,
            amount=amount,
            campaign_ids=campaigns,
            created_at=created,
            status=status,
            effects_pending=False,
        )

    await Order.insert_many(
        [
            order("o1", eur(10_000), at(4, 12), [sid]),
            order("o2", eur(6_000), at(5, 21, 30), [sid]),
            order("o3", eur(8_000), at(5, 22, 30), [sid]),
            order("o4", Money(amount=4_000, currency="USD"), at(5, 12), [other.key, sid]),
            order("o5", eur(9_999), at(5, 12), [sid], OrderStatus.CANCELLED),
            order("o6", eur(3_000), at(4, 15), []),
            order("o7", eur(5_000), at(5, 15), [other.key]),
            order("o8", eur(2_000), at(6, 8), []),
            order("o9", eur(1_000), at(4, 12, 45), []),
            # 23:50 in Paris on May 5, in the same UTC hour as o2.
            order("o10", eur(7_000), at(5, 21, 50), [sid]),
        ]
    )

    await WalletPass.insert_many(
        [
            WalletPass(
                project_id=project_id,
                kind=PassKind.COUPON,
                subject="code:SPRA",
                serial="serial-a",
                code="SPRA",
                campaign_id=sid,
                google_issued=True,
                created_at=at(4, 10),
            ),
            WalletPass(
                project_id=project_id,
                kind=PassKind.COUPON,
                subject="code:SPRB",
                serial="serial-b",
                code="SPRB",
                campaign_id=sid,
                created_at=at(5, 10),
            ),
        ]
    )
    await PassRegistration(
        project_id=project_id,
        device_library_id="device-1",
        pass_type_id="pass.test",
        serial="serial-a",
        push_token="token",
        campaign_id=sid,
        created_at=at(4, 10, 5),
    ).insert()

    await validate_and_count(
        project_id=project_id, raw_code="SPRA", customer_id=None, order=None, now=at(4, 13)
    )
    await validate_and_count(
        project_id=project_id, raw_code="spr-a", customer_id=None, order=None, now=at(4, 13, 40)
    )
    await validate_and_count(
        project_id=project_id, raw_code="SPRE", customer_id=None, order=None, now=at(5, 9)
    )
    # Unknown codes are nobody's validations.
    await validate_and_count(
        project_id=project_id, raw_code="NOPE", customer_id=None, order=None, now=at(5, 9)
    )
    return Scenario(spring=spring, other=other)


def money(value: Money | None) -> tuple[int, str] | None:
    return None if value is None else (value.amount, value.currency)


def daily(stats: object) -> list[tuple[date, int, int, int, int, int]]:
    return [
        (d.day, d.published, d.validated, d.redeemed, d.revenue.amount, d.discount_cost.amount)
        for d in stats.daily  # type: ignore[attr-defined]
    ]


async def test_campaign_stats_over_the_whole_life_match_the_hand_count(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)

    stats = await campaign_stats(project_id=tenant.project_id, campaign_id=scenario.spring.key)

    assert stats.currency == "EUR"
    assert stats.issued == 6
    assert stats.published == 5
    channels = {c.channel.value: c for c in stats.channels}
    assert (channels["EMAIL"].sent, channels["EMAIL"].delivered) == (2, 2)
    assert (channels["EMAIL"].undelivered, channels["EMAIL"].redeemed) == (0, 1)
    assert (channels["SMS"].sent, channels["SMS"].delivered) == (2, 1)
    assert (channels["SMS"].undelivered, channels["SMS"].redeemed) == (1, 1)
    assert stats.delivered == 3
    assert (stats.passes_added, stats.apple_registrations, stats.google_issued) == (2, 1, 1)
    assert stats.validated == 3
    assert (stats.redeemed, stats.rolled_back) == (3, 1)
    assert stats.redemption_rate == pytest.approx(3 / 5)
    # o1, o2, o3, o10 in euros and o4 in dollars; o5 was cancelled.
    assert stats.orders_attributed == 5
    assert money(stats.revenue) == (31_000, "EUR")
    assert [money(m) for m in stats.revenue_by_currency] == [(31_000, "EUR"), (4_000, "USD")]
    assert money(stats.discount_cost) == (1_500, "EUR")
    assert stats.roi == pytest.approx((31_000 - 1_500) / 1_500)
    assert money(stats.average_basket) == (7_750, "EUR")
    # o6, o7, o8, o9: 11,000 EUR over 4 orders.
    assert stats.orders_without == 4
    assert money(stats.average_basket_without) == (2_750, "EUR")
    assert daily(stats) == [
        (date(2026, 5, 4), 4, 2, 1, 10_000, 500),
        (date(2026, 5, 5), 1, 1, 1, 13_000, 500),
        (date(2026, 5, 6), 0, 0, 1, 8_000, 500),
    ]


async def test_campaign_stats_in_a_window_cut_inside_hours(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)

    # Both ends fall inside an hour: o9 (12:45) is in, o1 (12:00) out; o2 (21:30) in, o10
    # (21:50) out.
    stats = await campaign_stats(
        project_id=tenant.project_id,
        campaign_id=scenario.spring.key,
        start=at(4, 12, 30),
        end=at(5, 21, 45),
    )

    assert stats.issued == 6
    assert stats.published == 1
    channels = {c.channel.value: c for c in stats.channels}
    assert (channels["EMAIL"].sent, channels["EMAIL"].delivered) == (1, 1)
    assert (channels["SMS"].sent, channels["SMS"].delivered) == (0, 0)
    assert stats.delivered == 1
    assert (stats.passes_added, stats.apple_registrations, stats.google_issued) == (1, 0, 0)
    assert stats.validated == 3
    assert (stats.redeemed, stats.rolled_back) == (1, 1)
    assert stats.redemption_rate == 1.0
    assert stats.orders_attributed == 2
    assert money(stats.revenue) == (6_000, "EUR")
    assert [money(m) for m in stats.revenue_by_currency] == [(6_000, "EUR"), (4_000, "USD")]
    assert money(stats.discount_cost) == (500, "EUR")
    assert stats.roi == pytest.approx(11.0)
    assert money(stats.average_basket) == (6_000, "EUR")
    assert stats.orders_without == 3
    assert money(stats.average_basket_without) == (3_000, "EUR")
    assert daily(stats) == [
        (date(2026, 5, 4), 0, 2, 0, 0, 0),
        (date(2026, 5, 5), 1, 1, 1, 6_000, 500),
    ]


async def test_an_empty_window_has_no_roi_and_no_rate(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)

    stats = await campaign_stats(
        project_id=tenant.project_id,
        campaign_id=scenario.spring.key,
        start=at(20, 0),
        end=at(21, 0),
    )

    assert (stats.published, stats.redeemed, stats.redemption_rate) == (0, 0, 0.0)
    assert stats.roi is None
    assert stats.average_basket is None and stats.average_basket_without is None
    assert stats.daily == []


async def test_another_projects_campaign_is_not_found_and_its_data_is_not_counted(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    scenario = await seed(tenant.project_id)
    # A stray document of another project naming the same campaign id counts nowhere.
    await Redemption(
        project_id=other_tenant.project_id,
        code="SPRA",
        code_id="SPRA",
        campaign_id=scenario.spring.key,
        discount=eur(500),
        status=RedemptionStatus.SUCCEEDED,
        day="2026-05-04",
        completed_at=at(4, 12),
    ).insert()

    with pytest.raises(NotFound):
        await campaign_stats(project_id=other_tenant.project_id, campaign_id=scenario.spring.key)
    stats = await campaign_stats(project_id=tenant.project_id, campaign_id=scenario.spring.key)
    assert stats.redeemed == 3


async def test_recorded_orders_carry_the_campaigns_of_their_codes(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)

    recorded = await record_order(
        tenant.project_id,
        OrderInput(order_id="web-9", amount=eur(4_200), codes=["spr-a", "UNKNOWN"]),
    )

    assert recorded.order.campaign_ids == [scenario.spring.key]
    stats = await campaign_stats(project_id=tenant.project_id, campaign_id=scenario.spring.key)
    assert stats.orders_attributed == 6
    assert money(stats.revenue) == (35_200, "EUR")


async def test_project_overview_matches_the_hand_count(tenant: Tenant) -> None:
    scenario = await seed(tenant.project_id)
    project = await Project.get(tenant.project.id)
    assert project is not None
    project.messaging.timezone = "Europe/Paris"
    await project.save()
    points = Campaign(project_id=tenant.project_id, name="Points", kind=CampaignKind.LOYALTY)
    friends = Campaign(project_id=tenant.project_id, name="Friends", kind=CampaignKind.REFERRAL)
    ended = Campaign(project_id=tenant.project_id, name="Winter", ends_at=at(1, 0))
    for campaign in (points, friends, ended):
        await campaign.insert()
    await LoyaltyCard.insert_many(
        [
            LoyaltyCard(
                project_id=tenant.project_id, campaign_id=points.key, customer_id=c, balance=b
            )
            for c, b in (("c1", 120), ("c2", 80))
        ]
    )
    await ReferralCode.insert_many(
        [
            ReferralCode(
                project_id=tenant.project_id,
                campaign_id=friends.key,
                referrer_id=r,
                code=f"REF{r}",
                clicks=n,
            )
            for r, n in (("r1", 7), ("r2", 3))
        ]
    )
    await Referral.insert_many(
        [
            Referral(
                project_id=tenant.project_id,
                campaign_id=friends.key,
                code="REFR1",
                code_id="x",
                referrer_id="r1",
                referee_id=f"e{i}",
                status=status,
            )
            for i, status in enumerate(ReferralStatus)
        ]
    )
    await Redemption(
        project_id=tenant.project_id,
        code="OTHER",
        code_id="OTHER",
        campaign_id=scenario.other.key,
        discount=eur(300),
        status=RedemptionStatus.SUCCEEDED,
        day="2026-05-05",
        completed_at=at(5, 15),
    ).insert()

    # 12:00 in Paris on May 6: today began at 22:00 UTC on May 5.
    overview = await project_overview(project_id=tenant.project_id, now=at(6, 10))

    assert overview.timezone == "Europe/Paris"
    # Spring, Points and Friends; Other is paused and Winter has ended.
    assert overview.active_campaigns == 3
    assert overview.redemptions_today == 1
    assert [(t.campaign.name, t.redeemed) for t in overview.top_campaigns] == [
        ("Spring", 3),
        ("Other", 1),
    ]
    assert money(await overview.top_campaigns[0].revenue()) == (31_000, "EUR")
    assert money(await overview.top_campaigns[1].revenue()) == (5_000, "EUR")
    assert overview.points_outstanding == 200
    assert [(p.campaign.name, p.points, p.cards) for p in overview.points_by_program] == [
        ("Points", 200, 2)
    ]
    assert (overview.referral_clicks, overview.referral_conversions) == (10, 2)
    assert overview.referral_conversion == pytest.approx(0.2)

    # Thirty days later Spring's redemptions have left the ranking.
    later = await project_overview(
        project_id=tenant.project_id, now=at(31, 12) + (at(6, 0) - at(1, 0))
    )
    assert later.top_campaigns == []
    assert later.redemptions_today == 0

"""Validation, redemption, rollback, idempotency and reconciliation against the real database."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.campaigns import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Discount,
    DiscountType,
    Limits,
    Rules,
)
from domain.codes import Code
from domain.common import Money
from domain.customers import OrderMetrics
from domain.discounts import Order, OrderItem
from domain.errors import DomainError
from domain.redemptions import (
    CustomerRedemptionCounter,
    DailyRedemptionCounter,
    Reason,
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
    reconcile_campaign,
    redeem_code,
    rollback_redemption,
    validate_code,
)
from tests.factories import Tenant, eur, make_campaign, make_code, make_customer

# A Wednesday, 10:00 in Paris.
NOON = datetime(2025, 6, 11, 8, 0, tzinfo=UTC)
TEN_PERCENT = Discount(type=DiscountType.PERCENT, percent_off=10)


def order(amount: int = 10_000, currency: str = "EUR", **fields: Any) -> Order:
    return Order(id="o-1", amount=Money(amount=amount, currency=currency), **fields)


async def redeem(
    project_id: str, code: str = "SUMMER20", customer_id: str | None = None, **fields: Any
) -> Redemption:
    arguments: dict[str, Any] = {
        "order": order(),
        "idempotency_key": None,
        "channel": RedemptionChannel.ONLINE,
        "api_key_id": "key-1",
        "now": NOON,
    }
    arguments.update(fields)
    return await redeem_code(
        project_id=project_id, raw_code=code, customer_id=customer_id, **arguments
    )


async def reasons_of(project_id: str, **fields: Any) -> list[str]:
    with pytest.raises(DomainError) as refused:
        await redeem(project_id, **fields)
    return [problem.code for problem in refused.value.problems]


async def document_counts() -> dict[str, int]:
    models: list[Any] = [Redemption, CustomerRedemptionCounter, DailyRedemptionCounter, Code]
    return {m.__name__: await m.get_pymongo_collection().count_documents({}) for m in models}


async def counters(campaign: Campaign, code: Code) -> tuple[int, int]:
    fresh_code = await Code.get(code.id)
    fresh_campaign = await Campaign.get(campaign.id)
    assert fresh_code is not None and fresh_campaign is not None
    return fresh_code.redeemed_count, fresh_campaign.redeemed_count


async def test_valid_code_gives_its_discount(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_code(campaign=campaign)
    result = await validate_code(
        project_id=tenant.project_id,
        raw_code="summer 20",
        customer_id=None,
        order=order(12_345),
        now=NOON,
    )
    assert result.valid and result.reasons == []
    assert result.discount == eur(1_234)


async def test_unknown_code_stops_at_not_found(tenant: Tenant) -> None:
    result = await validate_code(
        project_id=tenant.project_id,
        raw_code="NOPE",
        customer_id="not-an-id",
        order=order(1, "XXX"),
    )
    assert result.reasons == [Reason.NOT_FOUND]
    assert result.discount is None


async def test_validation_lists_every_failing_reason_and_writes_nothing(tenant: Tenant) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id,
        status=CampaignStatus.PAUSED,
        starts_at=NOON + timedelta(days=1),
        limits=Limits(per_code=1, per_customer=1, total=5, per_day=3),
        rules=Rules(
            min_order=eur(50_000),
            hours=[20, 21],
            skus=["SKU-1"],
            first_order_only=True,
            customer_tags=["vip"],
            attributes={"tier": "gold"},
        ),
    )
    await make_code(campaign=campaign, redeemed_count=1)
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id}, {"$set": {"redeemed_count": 5}}
    )
    customer = await make_customer(
        project_id=tenant.project_id, tags=["newsletter"], metrics=OrderMetrics(orders_count=2)
    )
    await CustomerRedemptionCounter(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        customer_id=customer.key,
        redeemed_count=1,
    ).insert()
    await DailyRedemptionCounter(
        project_id=tenant.project_id, campaign_id=campaign.key, day="2025-06-11", redeemed_count=3
    ).insert()
    before = await document_counts()

    result = await validate_code(
        project_id=tenant.project_id,
        raw_code="Summer-20",
        customer_id=customer.key,
        order=order(1_000),
        now=NOON,
    )

    assert not result.valid
    assert set(result.reasons) == {
        Reason.NOT_STARTED,
        Reason.PAUSED,
        Reason.OUTSIDE_HOURS,
        Reason.NOT_FIRST_ORDER,
        Reason.TAG_NOT_MATCHED,
        Reason.ATTRIBUTES_NOT_MATCHED,
        Reason.CODE_LIMIT_REACHED,
        Reason.CUSTOMER_LIMIT_REACHED,
        Reason.CAMPAIGN_LIMIT_REACHED,
        Reason.DAILY_LIMIT_REACHED,
        Reason.MIN_ORDER_NOT_MET,
        Reason.NO_ELIGIBLE_ITEMS,
    }
    assert result.discount is None
    assert await document_counts() == before


async def test_customer_rules(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, rules=Rules(first_order_only=True))
    await make_code(campaign=campaign)
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=None, order=order()
        )
    ).reasons == [Reason.CUSTOMER_REQUIRED]
    missing = "64b000000000000000000000"
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=missing, order=order()
        )
    ).reasons == [Reason.CUSTOMER_NOT_FOUND]
    erased = await make_customer(project_id=project, erased=True)
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=erased.key, order=order()
        )
    ).reasons == [Reason.CUSTOMER_NOT_FOUND]
    newcomer = await make_customer(project_id=project)
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=newcomer.key, order=order()
        )
    ).valid


async def test_tags_attributes_and_segments(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(
        project_id=project, rules=Rules(customer_tags=["VIP", "staff"], attributes={"tier": "gold"})
    )
    await make_code(campaign=campaign)
    matching = await make_customer(
        project_id=project, tags=["vip"], attributes={"tier": "gold", "x": 1}
    )
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=matching.key, order=order()
        )
    ).valid
    wrong_type = await make_customer(project_id=project, tags=["staff"], attributes={"tier": True})
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=wrong_type.key, order=order()
        )
    ).reasons == [Reason.ATTRIBUTES_NOT_MATCHED]

    segmented = await make_campaign(project_id=project, rules=Rules(segment_ids=["seg-1"]))
    await make_code(campaign=segmented, display="SEGMENTED")
    assert (
        await validate_code(
            project_id=project, raw_code="SEGMENTED", customer_id=matching.key, order=order()
        )
    ).reasons == [Reason.NOT_IN_SEGMENT]
    assert (
        await validate_code(
            project_id=project, raw_code="SEGMENTED", customer_id=None, order=order()
        )
    ).reasons == [Reason.CUSTOMER_REQUIRED]


async def test_assigned_code_belongs_to_its_customer(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project)
    owner = await make_customer(project_id=project)
    stranger = await make_customer(project_id=project)
    await make_code(campaign=campaign, assigned=True, customer_id=owner.key)
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=owner.key, order=order()
        )
    ).valid
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=stranger.key, order=order()
        )
    ).reasons == [Reason.NOT_ASSIGNED_TO_CUSTOMER]
    # Without a named customer, holding the code is enough.
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=None, order=order()
        )
    ).valid


async def test_campaign_state_and_kind(tenant: Tenant) -> None:
    project = tenant.project_id
    ended = await make_campaign(project_id=project, status=CampaignStatus.ENDED)
    await make_code(campaign=ended, display="ENDED")
    past = await make_campaign(project_id=project, ends_at=NOON)
    await make_code(campaign=past, display="PAST")
    referral = await make_campaign(project_id=project, kind=CampaignKind.REFERRAL, discount=None)
    await make_code(campaign=referral, display="FRIEND")
    assert (
        await validate_code(
            project_id=project, raw_code="ENDED", customer_id=None, order=order(), now=NOON
        )
    ).reasons == [Reason.EXPIRED]
    # ends_at is exclusive.
    assert (
        await validate_code(
            project_id=project, raw_code="PAST", customer_id=None, order=order(), now=NOON
        )
    ).reasons == [Reason.EXPIRED]
    assert (
        await validate_code(
            project_id=project,
            raw_code="PAST",
            customer_id=None,
            order=order(),
            now=NOON - timedelta(seconds=1),
        )
    ).valid
    friend = await validate_code(
        project_id=project, raw_code="FRIEND", customer_id=None, order=order(), now=NOON
    )
    assert friend.reasons == [Reason.CAMPAIGN_NOT_DISCOUNT]
    assert friend.discount is None


async def test_order_rules(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(
        project_id=project,
        discount=Discount(type=DiscountType.AMOUNT, amount_off=eur(500)),
        rules=Rules(min_order=eur(2_000), categories=["shoes"]),
    )
    await make_code(campaign=campaign)
    shoes = OrderItem(sku="S-1", quantity=1, price=eur(3_000), category="shoes")
    hat = OrderItem(sku="H-1", quantity=1, price=eur(3_000), category="hats")
    assert (
        await validate_code(
            project_id=project,
            raw_code="SUMMER20",
            customer_id=None,
            order=order(3_000, items=[shoes]),
        )
    ).valid
    assert (
        await validate_code(
            project_id=project,
            raw_code="SUMMER20",
            customer_id=None,
            order=order(3_000, items=[hat]),
        )
    ).reasons == [Reason.NO_ELIGIBLE_ITEMS]
    assert (
        await validate_code(project_id=project, raw_code="SUMMER20", customer_id=None, order=None)
    ).reasons == [
        Reason.MIN_ORDER_NOT_MET,
        Reason.NO_ELIGIBLE_ITEMS,
    ]
    dollars = Order(amount=Money(amount=3_000, currency="USD"), items=[shoes])
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=None, order=dollars
        )
    ).reasons == [Reason.CURRENCY_MISMATCH]


async def test_daily_limit_counts_the_campaign_day(tenant: Tenant) -> None:
    project = tenant.project_id
    # 23:30 UTC on 10 June is already 11 June in Paris.
    late = datetime(2025, 6, 10, 23, 30, tzinfo=UTC)
    campaign = await make_campaign(project_id=project, limits=Limits(per_day=1))
    await make_code(campaign=campaign)
    first = await redeem(project, now=late)
    assert first.day == "2025-06-11"
    assert await reasons_of(project, now=NOON) == [Reason.DAILY_LIMIT_REACHED]
    assert (
        await validate_code(
            project_id=project, raw_code="SUMMER20", customer_id=None, order=order(), now=NOON
        )
    ).reasons == [Reason.DAILY_LIMIT_REACHED]
    # The next Paris day has its own counter.
    assert (await redeem(project, now=NOON + timedelta(days=1))).day == "2025-06-12"


async def test_redeem_takes_every_counter_and_records_the_redemption(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, limits=Limits(per_customer=5, per_day=50))
    code = await make_code(campaign=campaign)
    customer = await make_customer(project_id=project)

    redemption = await redeem(project, "summer-20", customer.key, channel=RedemptionChannel.POS)

    stored = await Redemption.get(redemption.id)
    assert stored is not None
    assert stored.status == RedemptionStatus.SUCCEEDED
    assert (stored.code, stored.code_id, stored.campaign_id) == (
        "SUMMER20",
        str(code.id),
        campaign.key,
    )
    assert (stored.customer_id, stored.channel, stored.api_key_id) == (
        customer.key,
        RedemptionChannel.POS,
        "key-1",
    )
    assert stored.discount == eur(1_000)
    assert stored.order == order()
    assert stored.day == "2025-06-11"
    assert await counters(campaign, code) == (1, 1)
    fresh = await Code.get(code.id)
    assert fresh is not None and fresh.last_redeemed_at is not None
    per_customer = await CustomerRedemptionCounter.find_one({"customer_id": customer.key})
    per_day = await DailyRedemptionCounter.find_one({"campaign_id": campaign.key})
    assert per_customer is not None and per_customer.redeemed_count == 1
    assert per_day is not None and per_day.redeemed_count == 1


async def test_no_per_customer_or_per_day_counter_without_such_a_limit(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, limits=Limits(per_code=3))
    code = await make_code(campaign=campaign)
    customer = await make_customer(project_id=project)

    await redeem(project, "summer-20", customer.key)

    assert await counters(campaign, code) == (1, 1)
    assert await CustomerRedemptionCounter.find_all().count() == 0
    assert await DailyRedemptionCounter.find_all().count() == 0
    report = await reconcile_campaign(project_id=project, campaign_id=campaign.key)
    assert report.corrections == []


async def test_refusal_gives_back_earlier_counters_and_writes_nothing(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, limits=Limits(per_customer=1))
    code = await make_code(campaign=campaign)
    customer = await make_customer(project_id=project)
    await redeem(project, customer_id=customer.key)
    before = await document_counts()

    assert await reasons_of(project, customer_id=customer.key) == [Reason.CUSTOMER_LIMIT_REACHED]

    # The code counter moved before the customer's was refused; it was given back.
    assert await counters(campaign, code) == (1, 1)
    assert await document_counts() == before


async def test_redeem_reports_every_validation_reason(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(
        project_id=project, status=CampaignStatus.PAUSED, rules=Rules(min_order=eur(50_000))
    )
    await make_code(campaign=campaign)
    assert await reasons_of(project) == [Reason.PAUSED, Reason.MIN_ORDER_NOT_MET]
    assert await reasons_of(project, code="unknown") == [Reason.NOT_FOUND]
    assert await Redemption.get_pymongo_collection().count_documents({}) == 0


async def test_rollback_gives_back_and_the_code_can_be_redeemed_again(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(
        project_id=project, limits=Limits(per_code=1, per_customer=1, per_day=1)
    )
    code = await make_code(campaign=campaign)
    customer = await make_customer(project_id=project)
    first = await redeem(project, customer_id=customer.key)
    assert await reasons_of(project, customer_id=customer.key) == [Reason.CODE_LIMIT_REACHED]

    rolled_back = await rollback_redemption(
        project_id=project, redemption_id=first.key, reason="  order cancelled "
    )

    assert rolled_back.status == RedemptionStatus.ROLLED_BACK
    assert rolled_back.rollback_reason == "order cancelled"
    assert rolled_back.rolled_back_at is not None
    assert await counters(campaign, code) == (0, 0)
    second = await redeem(project, customer_id=customer.key)
    assert second.id != first.id
    assert await counters(campaign, code) == (1, 1)
    per_customer = await CustomerRedemptionCounter.find_one({"customer_id": customer.key})
    assert per_customer is not None and per_customer.redeemed_count == 1


async def test_second_rollback_is_refused(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project)
    code = await make_code(campaign=campaign)
    redemption = await redeem(project)
    await rollback_redemption(project_id=project, redemption_id=redemption.key, reason="")
    with pytest.raises(DomainError) as refused:
        await rollback_redemption(project_id=project, redemption_id=redemption.key, reason="")
    assert refused.value.code == "ALREADY_ROLLED_BACK"
    assert await counters(campaign, code) == (0, 0)
    with pytest.raises(DomainError) as missing:
        await rollback_redemption(project_id=project, redemption_id="not-an-id", reason="")
    assert missing.value.code == "NOT_FOUND"


async def test_retry_with_the_same_key_returns_the_first_redemption(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, ends_at=NOON + timedelta(hours=1))
    code = await make_code(campaign=campaign)
    first = await redeem(project, idempotency_key="order-1")
    # Even once the campaign is over, the retry answers with what happened the first time.
    again = await redeem(project, idempotency_key="order-1", now=NOON + timedelta(hours=2))
    assert again.id == first.id
    assert await counters(campaign, code) == (1, 1)
    other = await redeem(project, idempotency_key="order-2")
    assert other.id != first.id
    await make_code(campaign=campaign, display="OTHER")
    with pytest.raises(DomainError) as reused:
        await redeem(project, code="OTHER", idempotency_key="order-1")
    assert reused.value.code == "IDEMPOTENCY_KEY_REUSED"


async def test_a_refused_attempt_leaves_the_key_free_for_a_retry(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, limits=Limits(per_code=1))
    code = await make_code(campaign=campaign)
    taken = await redeem(project)
    assert await reasons_of(project, idempotency_key="till-7") == [Reason.CODE_LIMIT_REACHED]
    await rollback_redemption(project_id=project, redemption_id=taken.key, reason="wrong customer")
    retried = await redeem(project, idempotency_key="till-7")
    assert retried.status == RedemptionStatus.SUCCEEDED
    assert await counters(campaign, code) == (1, 1)


async def test_without_a_key_every_call_is_a_new_redemption(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project)
    code = await make_code(campaign=campaign)
    ids = {(await redeem(project, idempotency_key=key)).id for key in (None, "", "  ")}
    assert len(ids) == 3
    assert await counters(campaign, code) == (3, 3)


async def test_reconciliation_fixes_corrupted_counters(tenant: Tenant) -> None:
    project = tenant.project_id
    # Per-customer and per-day counters are kept while the campaign has such limits.
    campaign = await make_campaign(project_id=project, limits=Limits(per_customer=9, per_day=99))
    first_code = await make_code(campaign=campaign)
    second_code = await make_code(campaign=campaign, display="WINTER-10")
    alice = await make_customer(project_id=project)
    bob = await make_customer(project_id=project)
    await redeem(project, customer_id=alice.key)
    await redeem(project, customer_id=alice.key)
    await redeem(project, "WINTER10", bob.key)
    rolled = await redeem(project, "WINTER10", bob.key)
    await rollback_redemption(project_id=project, redemption_id=rolled.key, reason="")
    # Corrupt every kind of counter.
    await Code.get_pymongo_collection().update_one(
        {"_id": first_code.id}, {"$set": {"redeemed_count": 7}}
    )
    await Code.get_pymongo_collection().update_one(
        {"_id": second_code.id}, {"$set": {"redeemed_count": 0}}
    )
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id}, {"$set": {"redeemed_count": 40}}
    )
    await CustomerRedemptionCounter.get_pymongo_collection().delete_one({"customer_id": alice.key})
    await CustomerRedemptionCounter.get_pymongo_collection().update_one(
        {"customer_id": bob.key}, {"$set": {"redeemed_count": 9}}
    )
    await DailyRedemptionCounter.get_pymongo_collection().update_one(
        {"campaign_id": campaign.key}, {"$set": {"redeemed_count": 1}}
    )

    report = await reconcile_campaign(project_id=project, campaign_id=campaign.key)

    fixed = {(c.counter, c.key): (c.was, c.now) for c in report.corrections}
    assert fixed == {
        ("code", "SUMMER20"): (7, 2),
        ("code", "WINTER10"): (0, 1),
        ("campaign", campaign.key): (40, 3),
        ("customer", alice.key): (0, 2),
        ("customer", bob.key): (9, 1),
        ("day", "2025-06-11"): (1, 3),
    }
    assert await counters(campaign, first_code) == (2, 3)
    assert await counters(campaign, second_code) == (1, 3)
    assert (
        await reconcile_campaign(project_id=project, campaign_id=campaign.key)
    ).corrections == []


async def test_reconciliation_clears_a_claim_left_by_a_dead_process(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, limits=Limits(per_code=1))
    code = await make_code(campaign=campaign)
    # A process claimed the key, took the code and campaign counters, and died.
    await Redemption(
        project_id=project,
        code=code.code,
        code_id=str(code.id),
        campaign_id=campaign.key,
        idempotency_key="till-9",
        day="2025-06-11",
        created_at=datetime.now(UTC) - timedelta(minutes=2),
    ).insert()
    await Code.get_pymongo_collection().update_one(
        {"_id": code.id}, {"$inc": {"redeemed_count": 1}}
    )
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id}, {"$inc": {"redeemed_count": 1}}
    )

    report = await reconcile_campaign(project_id=project, campaign_id=campaign.key)

    assert report.stale_claims_removed == 1
    assert await counters(campaign, code) == (0, 0)
    retried = await redeem(project, idempotency_key="till-9")
    assert retried.status == RedemptionStatus.SUCCEEDED
    assert await counters(campaign, code) == (1, 1)


async def test_a_retry_meeting_a_dead_claim_clears_it_and_redeems(tenant: Tenant) -> None:
    project = tenant.project_id
    campaign = await make_campaign(project_id=project, limits=Limits(per_code=1))
    code = await make_code(campaign=campaign)
    await Redemption(
        project_id=project,
        code=code.code,
        code_id=str(code.id),
        campaign_id=campaign.key,
        idempotency_key="till-3",
        day="2025-06-11",
        created_at=datetime.now(UTC) - timedelta(minutes=5),
    ).insert()
    await Code.get_pymongo_collection().update_one(
        {"_id": code.id}, {"$inc": {"redeemed_count": 1}}
    )

    retried = await redeem(project, idempotency_key="till-3")

    assert retried.status == RedemptionStatus.SUCCEEDED
    assert await counters(campaign, code) == (1, 1)

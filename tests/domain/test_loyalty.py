"""Loyalty points against the real database: earning, reversing, spending, expiry, tiers, and the
card's balance always equal to its ledger, including after crashes and races."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from api.background import expire_points_forever
from domain.campaigns import Campaign, CampaignInput, create_campaign
from domain.codes import Code
from domain.common import Money, utc_now
from domain.customers import Customer
from domain.errors import DomainError
from domain.loyalty import (
    Exchange,
    LedgerEntry,
    LedgerKind,
    LoyaltyCard,
    Reward,
    RewardInput,
    adjust_points,
    create_reward,
    earn_for_order,
    ensure_card,
    exchange_points,
    expire_points,
    expiring_soon,
    find_card,
    ledger_sum,
    record_event,
    repair_card,
    reverse_for_order,
)
from domain.loyalty_config import LoyaltyConfigInput, LoyaltyTier, LoyaltyTierInput
from tests.factories import Tenant, eur, make_campaign, make_customer, make_loyalty_program

pytestmark = pytest.mark.usefixtures("tenant")


async def card_of(program: Campaign, customer: Customer) -> LoyaltyCard:
    return await find_card(
        project_id=program.project_id, campaign_id=program.key, customer_id=customer.key
    )


async def assert_consistent(program: Campaign, customer: Customer) -> LoyaltyCard:
    """The balance is the ledger's sum, nothing is half-written, and the unused points of the
    positive entries add up to the balance too."""
    card = await card_of(program, customer)
    assert card.balance == await ledger_sum(card_id=card.key)
    assert card.balance >= 0
    assert card.inflight == []
    assert await LedgerEntry.find({"card_id": card.key, "applied": False}).count() == 0
    lots = await LedgerEntry.find({"card_id": card.key, "remaining": {"$gt": 0}}).to_list()
    assert sum(lot.remaining for lot in lots) == card.balance
    return card


async def entries(card: LoyaltyCard, kind: LedgerKind | None = None) -> list[LedgerEntry]:
    query: dict[str, Any] = {"card_id": card.key}
    if kind is not None:
        query["kind"] = kind.value
    return await LedgerEntry.find(query).sort("+created_at", "+_id").to_list()


async def funded(tenant: Tenant, points: int, **config: Any) -> tuple[Campaign, Customer]:
    program = await make_loyalty_program(project_id=tenant.project_id, **config)
    customer = await make_customer(project_id=tenant.project_id)
    await adjust_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        campaign_id=program.key,
        points=points,
        reason="opening balance",
        actor="test",
    )
    return program, customer


@pytest.mark.parametrize(
    ("amount", "currency", "config", "expected"),
    [
        (1_299, "EUR", {}, 12),
        (1_299, "EUR", {"rounding": "HALF_EVEN"}, 13),
        (1_250, "EUR", {"rounding": "HALF_EVEN"}, 12),
        (1_350, "EUR", {"rounding": "HALF_EVEN"}, 14),
        (1_299, "EUR", {"points_per_unit": 2, "points_per_order": 5}, 30),
        (1_500, "JPY", {"points_per_unit": 0.01}, 15),
        (12_345, "KWD", {"points_per_unit": 1}, 12),
    ],
)
async def test_an_order_earns_per_major_unit_with_its_rounding(
    tenant: Tenant, amount: int, currency: str, config: dict[str, Any], expected: int
) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, **config)
    customer = await make_customer(project_id=tenant.project_id)
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=Money(amount=amount, currency=currency),
    )
    card = await assert_consistent(program, customer)
    assert card.balance == expected
    [earn] = await entries(card)
    assert (earn.kind, earn.points, earn.source) == (LedgerKind.EARN, expected, "o-1")


async def test_the_same_order_earns_once_even_when_recorded_concurrently(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, points_per_order=10)
    customer = await make_customer(project_id=tenant.project_id)
    await asyncio.gather(
        *(
            earn_for_order(
                project_id=tenant.project_id,
                customer_id=customer.key,
                order_id="o-1",
                amount=eur(5_000),
            )
            for _ in range(20)
        )
    )
    await earn_for_order(
        project_id=tenant.project_id, customer_id=customer.key, order_id="o-1", amount=eur(5_000)
    )
    card = await assert_consistent(program, customer)
    assert card.balance == 60
    assert len(await entries(card)) == 1
    assert await LoyaltyCard.find({"project_id": tenant.project_id}).count() == 1


async def test_every_active_program_earns_and_paused_or_other_kinds_do_not(tenant: Tenant) -> None:
    first = await make_loyalty_program(project_id=tenant.project_id)
    second = await make_loyalty_program(project_id=tenant.project_id, points_per_unit=3)
    paused = await make_loyalty_program(project_id=tenant.project_id)
    await paused.set({"status": "PAUSED"})
    await make_campaign(project_id=tenant.project_id)
    customer = await make_customer(project_id=tenant.project_id)
    await earn_for_order(
        project_id=tenant.project_id, customer_id=customer.key, order_id="o-1", amount=eur(1_000)
    )
    assert (await card_of(first, customer)).balance == 10
    assert (await card_of(second, customer)).balance == 30
    assert (await card_of(paused, customer)).id is None


async def test_reversing_an_order_twice_takes_its_points_back_once(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    customer = await make_customer(project_id=tenant.project_id)
    await earn_for_order(
        project_id=tenant.project_id, customer_id=customer.key, order_id="o-1", amount=eur(4_000)
    )
    await earn_for_order(
        project_id=tenant.project_id, customer_id=customer.key, order_id="o-2", amount=eur(1_000)
    )
    await asyncio.gather(
        *(
            reverse_for_order(
                project_id=tenant.project_id, customer_id=customer.key, order_id="o-1"
            )
            for _ in range(10)
        )
    )
    await reverse_for_order(project_id=tenant.project_id, customer_id=customer.key, order_id="o-1")
    card = await assert_consistent(program, customer)
    assert card.balance == 10
    assert card.earned_total == 10
    [reverse] = await entries(card, LedgerKind.REVERSE)
    assert (reverse.points, reverse.source) == (-40, "o-1")


async def test_a_reversal_takes_at_most_what_is_left_and_says_so(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    customer = await make_customer(project_id=tenant.project_id)
    await earn_for_order(
        project_id=tenant.project_id, customer_id=customer.key, order_id="o-1", amount=eur(5_000)
    )
    await adjust_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        campaign_id=program.key,
        points=-35,
        reason="used at the till",
        actor="k",
    )
    await reverse_for_order(project_id=tenant.project_id, customer_id=customer.key, order_id="o-1")
    card = await assert_consistent(program, customer)
    assert card.balance == 0
    [reverse] = await entries(card, LedgerKind.REVERSE)
    assert reverse.points == -15
    assert "15 of 50" in reverse.reason


async def test_an_event_earns_its_points_once_per_key(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, events={"review": 25})
    customer = await make_customer(project_id=tenant.project_id)
    for _ in range(3):
        await record_event(
            project_id=tenant.project_id,
            customer_id=customer.key,
            campaign_id=program.key,
            name="review",
            idempotency_key="rev-1",
        )
    card = await record_event(
        project_id=tenant.project_id,
        customer_id=customer.key,
        campaign_id=program.key,
        name="review",
        idempotency_key="rev-2",
    )
    assert card.balance == 50
    with pytest.raises(DomainError) as refused:
        await record_event(
            project_id=tenant.project_id,
            customer_id=customer.key,
            campaign_id=program.key,
            name="signup",
            idempotency_key="s-1",
        )
    assert refused.value.code == "UNKNOWN_EVENT"
    await assert_consistent(program, customer)


async def test_tiers_move_up_with_earning_and_down_with_reversal_and_time(tenant: Tenant) -> None:
    program = await make_loyalty_program(
        project_id=tenant.project_id,
        tiers=[
            LoyaltyTier(name="Silver", threshold=100, multiplier=1.5),
            LoyaltyTier(name="Gold", threshold=300, multiplier=2),
        ],
        tier_window_days=30,
    )
    customer = await make_customer(project_id=tenant.project_id)
    start = utc_now() - timedelta(days=10)
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=eur(12_000),
        now=start,
    )
    assert (await card_of(program, customer)).tier == "Silver"
    # Silver earns 1.5 points per euro: 120 + 150 = 270, still below Gold.
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-2",
        amount=eur(10_000),
        now=start,
    )
    card = await card_of(program, customer)
    assert (card.balance, card.tier) == (270, "Silver")
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-3",
        amount=eur(2_000),
        now=start,
    )
    assert (await card_of(program, customer)).tier == "Gold"
    await reverse_for_order(project_id=tenant.project_id, customer_id=customer.key, order_id="o-3")
    assert (await card_of(program, customer)).tier == "Silver"
    # Thirty days after earning, the points have left the window: no tier.
    await expire_points(now=start + timedelta(days=31))
    card = await assert_consistent(program, customer)
    assert (card.tier, card.balance) == ("", 270)


async def test_tiers_by_amount_spent_count_the_programs_currency_only(tenant: Tenant) -> None:
    program = await make_loyalty_program(
        project_id=tenant.project_id,
        points_per_unit=0,
        tiers=[
            LoyaltyTier(name="Silver", threshold=10_000, multiplier=1),
            LoyaltyTier(name="Gold", threshold=30_000, multiplier=1),
        ],
        tier_window_days=30,
        tier_basis="SPENT",
        currency="EUR",
    )
    customer = await make_customer(project_id=tenant.project_id)
    start = utc_now() - timedelta(days=10)
    # No points at all: spending still counts toward the tier.
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=eur(12_000),
        now=start,
    )
    card = await card_of(program, customer)
    assert (card.tier, card.balance, card.window_spent) == ("Silver", 0, 12_000)
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-usd",
        amount=Money(amount=90_000, currency="USD"),
        now=start,
    )
    assert (await card_of(program, customer)).tier == "Silver"
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-2",
        amount=eur(20_000),
        now=start,
    )
    assert (await card_of(program, customer)).tier == "Gold"
    await reverse_for_order(project_id=tenant.project_id, customer_id=customer.key, order_id="o-2")
    card = await card_of(program, customer)
    assert (card.tier, card.window_spent) == ("Silver", 12_000)
    # A reversal repeated changes nothing more.
    await reverse_for_order(project_id=tenant.project_id, customer_id=customer.key, order_id="o-2")
    assert (await card_of(program, customer)).window_spent == 12_000
    # Once the orders leave the window the spending no longer counts: down to no tier.
    await expire_points(now=start + timedelta(days=31))
    card = await assert_consistent(program, customer)
    assert (card.tier, card.window_spent) == ("", 0)


async def test_window_sums_are_recounted_when_an_earning_leaves_the_window(
    tenant: Tenant,
) -> None:
    program = await make_loyalty_program(
        project_id=tenant.project_id,
        tiers=[LoyaltyTier(name="Silver", threshold=100, multiplier=1)],
        tier_window_days=30,
    )
    customer = await make_customer(project_id=tenant.project_id)
    now = utc_now()
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="old",
        amount=eur(9_000),
        now=now - timedelta(days=40),
    )
    # The old order is outside the window by now: 90 + 50 points is not Silver.
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="new",
        amount=eur(5_000),
        now=now,
    )
    card = await card_of(program, customer)
    assert (card.tier, card.window_points, card.balance) == ("", 50, 140)
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="next",
        amount=eur(5_000),
        now=now,
    )
    card = await card_of(program, customer)
    assert (card.tier, card.window_points) == ("Silver", 100)
    # The card's sums match a recount from its ledger.
    await repair_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    assert (await card_of(program, customer)).window_points == 100


async def test_tiers_by_spending_need_a_currency(tenant: Tenant) -> None:
    cases = [
        (LoyaltyConfigInput(tier_basis="SPENT"), ("REQUIRED", "loyalty.currency")),
        (
            LoyaltyConfigInput(tier_basis="SPENT", currency="euro"),
            ("INVALID_CURRENCY", "loyalty.currency"),
        ),
        (
            LoyaltyConfigInput(tier_basis="VISITS"),
            ("INVALID_TIER_BASIS", "loyalty.tierBasis"),
        ),
    ]
    for given, problem in cases:
        with pytest.raises(DomainError) as refused:
            await create_campaign(
                project_id=tenant.project_id,
                data=CampaignInput(name="Points", kind="LOYALTY", loyalty=given),
            )
        assert {(p.code, p.field) for p in refused.value.problems} == {problem}
    campaign = await create_campaign(
        project_id=tenant.project_id,
        data=CampaignInput(
            name="Points",
            kind="LOYALTY",
            loyalty=LoyaltyConfigInput(tier_basis="SPENT", currency="eur"),
        ),
    )
    assert campaign.loyalty is not None
    assert (campaign.loyalty.tier_basis, campaign.loyalty.currency) == ("SPENT", "EUR")


async def test_expiry_takes_the_oldest_points_first_and_runs_once(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, expiry_days=30)
    customer = await make_customer(project_id=tenant.project_id)
    start = utc_now() - timedelta(days=60)
    for day in range(12):
        await earn_for_order(
            project_id=tenant.project_id,
            customer_id=customer.key,
            order_id=f"o-{day}",
            amount=eur(10_000),
            now=start + timedelta(day),
        )
    reward = await create_reward(
        project_id=tenant.project_id,
        data=RewardInput(campaign_id=program.key, name="Mug", cost=250),
    )
    # 1200 points in lots of 100: spending 250 empties the first two lots and half the third.
    await exchange_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        reward_id=reward.key,
        idempotency_key="x-1",
    )
    card = await assert_consistent(program, customer)
    lots = await entries(card, LedgerKind.EARN)
    assert [lot.remaining for lot in lots[:4]] == [0, 0, 50, 100]

    # Days 0 to 4 are 30 days old at day 34: their 50 + 100 + 100 points expire, in batches.
    assert await expire_points(now=start + timedelta(days=34), batch=2) == 3
    assert await expire_points(now=start + timedelta(days=34), batch=2) == 0
    card = await assert_consistent(program, customer)
    assert card.balance == 1200 - 250 - 250
    expired = await entries(card, LedgerKind.EXPIRE)
    assert sorted(-e.points for e in expired) == [50, 100, 100]
    assert {e.source for e in expired} == {lot.key_id for lot in lots[2:5]}

    assert await expire_points(now=start + timedelta(days=100)) == 7
    assert await expire_points(now=start + timedelta(days=100)) == 0
    card = await assert_consistent(program, customer)
    assert card.balance == 0


async def test_points_expiring_soon_are_grouped_by_moment(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, expiry_days=40)
    customer = await make_customer(project_id=tenant.project_id)
    now = utc_now()
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=eur(1_000),
        now=now,
    )
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-2",
        amount=eur(2_000),
        now=now - timedelta(days=20),
    )
    soon = await expiring_soon(card=await card_of(program, customer), now=now)
    assert [(item.points, item.at) for item in soon] == [(20, now + timedelta(days=20))]


async def test_exchanges_racing_for_one_balance_never_overdraw(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 100)
    reward = await create_reward(
        project_id=tenant.project_id,
        data=RewardInput(campaign_id=program.key, name="Coffee", cost=10),
    )

    async def exchange(n: int) -> str:
        try:
            await exchange_points(
                project_id=tenant.project_id,
                customer_id=customer.key,
                reward_id=reward.key,
                idempotency_key=f"k-{n}",
            )
        except DomainError as error:
            return error.code
        return "exchanged"

    outcomes = await asyncio.gather(*(exchange(n) for n in range(100)))
    assert outcomes.count("exchanged") == 10
    assert outcomes.count("INSUFFICIENT_POINTS") == 90
    card = await assert_consistent(program, customer)
    assert card.balance == 0
    assert len(await entries(card, LedgerKind.SPEND)) == 10
    assert await Exchange.find({"project_id": tenant.project_id}).count() == 10


async def test_one_key_sent_many_times_at_once_exchanges_once(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 100)
    discount = await make_campaign(project_id=tenant.project_id, codes_per_customer=1)
    reward = await create_reward(
        project_id=tenant.project_id,
        data=RewardInput(
            campaign_id=program.key, name="10% off", cost=30, discount_campaign_id=discount.key
        ),
    )
    results = await asyncio.gather(
        *(
            exchange_points(
                project_id=tenant.project_id,
                customer_id=customer.key,
                reward_id=reward.key,
                idempotency_key="same",
            )
            for _ in range(20)
        )
    )
    assert {str(r.exchange.id) for r in results} == {str(results[0].exchange.id)}
    assert {r.code.code for r in results if r.code} == {
        results[0].code.code if results[0].code else ""
    }
    card = await assert_consistent(program, customer)
    assert card.balance == 70
    # A second key gives a second, different code although the campaign gives one per customer.
    again = await exchange_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        reward_id=reward.key,
        idempotency_key="other",
    )
    assert again.code is not None and results[0].code is not None
    assert again.code.code != results[0].code.code
    assert await Code.find({"customer_id": customer.key}).count() == 2
    with pytest.raises(DomainError) as reused:
        other = await make_customer(project_id=tenant.project_id)
        await exchange_points(
            project_id=tenant.project_id,
            customer_id=other.key,
            reward_id=reward.key,
            idempotency_key="same",
        )
    assert reused.value.code == "IDEMPOTENCY_KEY_REUSED"


async def test_a_refused_exchange_frees_its_key(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 5)
    reward = await create_reward(
        project_id=tenant.project_id, data=RewardInput(campaign_id=program.key, name="Mug", cost=10)
    )
    with pytest.raises(DomainError) as refused:
        await exchange_points(
            project_id=tenant.project_id,
            customer_id=customer.key,
            reward_id=reward.key,
            idempotency_key="k",
        )
    assert refused.value.code == "INSUFFICIENT_POINTS"
    await adjust_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        campaign_id=program.key,
        points=5,
        reason="top up",
        actor="test",
    )
    result = await exchange_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        reward_id=reward.key,
        idempotency_key="k",
    )
    assert result.card.balance == 0
    await assert_consistent(program, customer)


async def test_adjustments_never_take_a_card_below_zero(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 30)
    with pytest.raises(DomainError) as refused:
        await adjust_points(
            project_id=tenant.project_id,
            customer_id=customer.key,
            campaign_id=program.key,
            points=-31,
            reason="too much",
            actor="k",
        )
    assert refused.value.code == "INSUFFICIENT_POINTS"
    with pytest.raises(DomainError) as invalid:
        await adjust_points(
            project_id=tenant.project_id,
            customer_id=customer.key,
            campaign_id=program.key,
            points=0,
            reason=" ",
            actor="k",
        )
    assert {p.code for p in invalid.value.problems} == {"INVALID_POINTS", "REQUIRED"}
    card = await adjust_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        campaign_id=program.key,
        points=-30,
        reason="all",
        actor="k",
    )
    assert card.balance == 0
    card = await assert_consistent(program, customer)
    adjustments = await entries(card, LedgerKind.ADJUST)
    assert [(a.points, a.reason, a.source) for a in adjustments] == [
        (30, "opening balance", "test"),
        (-30, "all", "k"),
    ]


async def test_repair_finishes_entries_a_crash_left_half_written(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 10)
    card = await ensure_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    old = utc_now() - timedelta(minutes=5)
    # Crashed after inserting its entry, before moving the balance.
    lost = LedgerEntry(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=customer.key,
        card_id=card.key,
        kind=LedgerKind.EARN,
        points=7,
        remaining=7,
        key="order:lost",
        created_at=old,
    )
    await lost.insert()
    # Crashed after moving the balance, before marking the entry applied.
    moved = LedgerEntry(**{**lost.model_dump(exclude={"id"}), "key": "order:moved", "points": 5})
    moved.remaining = 5
    await moved.insert()
    await LoyaltyCard.get_pymongo_collection().update_one(
        {"_id": card.id}, {"$inc": {"balance": 5}, "$push": {"inflight": str(moved.id)}}
    )
    assert (await card_of(program, customer)).balance == 15
    repair = await repair_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    assert (repair.entries_finished, repair.balance_after) == (2, 22)
    await assert_consistent(program, customer)
    again = await repair_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    assert (again.entries_finished, again.balance_after) == (0, 22)


async def test_repair_leaves_entries_in_flight_alone(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 10)
    card = await ensure_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    await LedgerEntry(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=customer.key,
        card_id=card.key,
        kind=LedgerKind.EARN,
        points=7,
        key="order:fresh",
    ).insert()
    repair = await repair_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    assert (repair.entries_finished, repair.balance_after) == (0, 10)


async def test_an_invalid_program_or_reward_writes_nothing(tenant: Tenant) -> None:
    with pytest.raises(DomainError) as refused:
        await create_campaign(
            project_id=tenant.project_id,
            data=CampaignInput(
                name="Points",
                kind="LOYALTY",
                loyalty=LoyaltyConfigInput(
                    points_per_unit=-1,
                    rounding="UP",
                    events=[("review", 0), ("", 5)],
                    tiers=[
                        LoyaltyTierInput("Gold", 100, 2),
                        LoyaltyTierInput("Gold", 200, 3),
                        LoyaltyTierInput("Silver", 100, 1.5),
                        LoyaltyTierInput("Bronze", 10, 0),
                    ],
                    tier_window_days=0,
                    expiry_days=0,
                ),
            ),
        )
    fields = {(p.code, p.field) for p in refused.value.problems}
    assert fields == {
        ("INVALID_POINTS", "loyalty.pointsPerUnit"),
        ("INVALID_ROUNDING", "loyalty.rounding"),
        ("INVALID_POINTS", "loyalty.events"),
        ("INVALID_EVENT", "loyalty.events"),
        ("DUPLICATE_TIER", "loyalty.tiers"),
        ("INVALID_TIER", "loyalty.tiers"),
        ("INVALID_DAYS", "loyalty.tierWindowDays"),
        ("INVALID_DAYS", "loyalty.expiryDays"),
    }
    with pytest.raises(DomainError) as misplaced:
        await create_campaign(
            project_id=tenant.project_id,
            data=CampaignInput(name="Sale", loyalty=LoyaltyConfigInput(points_per_order=1)),
        )
    assert misplaced.value.code in {"NOT_APPLICABLE", "REQUIRED"}
    assert await Campaign.find({"project_id": tenant.project_id}).count() == 0

    program = await make_loyalty_program(project_id=tenant.project_id)
    discount = await make_campaign(project_id=tenant.project_id)
    with pytest.raises(DomainError) as bad_reward:
        await create_reward(
            project_id=tenant.project_id,
            data=RewardInput(
                campaign_id=discount.key, name=" ", cost=0, discount_campaign_id=program.key
            ),
        )
    assert {(p.code, p.field) for p in bad_reward.value.problems} == {
        ("REQUIRED", "name"),
        ("INVALID_POINTS", "cost"),
        ("NOT_LOYALTY", "campaignId"),
        ("CAMPAIGN_NOT_DISCOUNT", "discountCampaignId"),
    }
    assert await Reward.find({"project_id": tenant.project_id}).count() == 0


async def test_a_program_is_created_with_its_sorted_tiers(tenant: Tenant) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id,
        data=CampaignInput(
            name="Points",
            kind="LOYALTY",
            loyalty=LoyaltyConfigInput(
                tiers=[LoyaltyTierInput("Gold", 500, 2), LoyaltyTierInput("Silver", 100, 1.5)],
                events=[("review", 20)],
                expiry_days=365,
            ),
        ),
    )
    stored = await Campaign.get(campaign.id)
    assert stored is not None and stored.loyalty is not None
    assert [t.name for t in stored.loyalty.tiers] == ["Silver", "Gold"]
    assert stored.loyalty.events == {"review": 20}
    assert stored.loyalty.expiry_days == 365


async def test_one_project_cannot_touch_another_projects_program(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    program, customer = await funded(tenant, 50)
    reward = await create_reward(
        project_id=tenant.project_id, data=RewardInput(campaign_id=program.key, name="Mug", cost=10)
    )
    stranger = await make_customer(project_id=other_tenant.project_id)
    with pytest.raises(DomainError) as unknown_reward:
        await exchange_points(
            project_id=other_tenant.project_id,
            customer_id=stranger.key,
            reward_id=reward.key,
            idempotency_key="k",
        )
    assert unknown_reward.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as unknown_program:
        await adjust_points(
            project_id=other_tenant.project_id,
            customer_id=stranger.key,
            campaign_id=program.key,
            points=5,
            reason="x",
            actor="k",
        )
    assert unknown_program.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as unknown_customer:
        await adjust_points(
            project_id=tenant.project_id,
            customer_id=stranger.key,
            campaign_id=program.key,
            points=5,
            reason="x",
            actor="k",
        )
    assert unknown_customer.value.code == "NOT_FOUND"
    # An order of the other project earns nothing in this project's program.
    await earn_for_order(
        project_id=other_tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=eur(10_000),
    )
    assert (await card_of(program, customer)).balance == 50


async def test_the_background_loop_expires_points(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, expiry_days=1)
    customer = await make_customer(project_id=tenant.project_id)
    await earn_for_order(
        project_id=tenant.project_id,
        customer_id=customer.key,
        order_id="o-1",
        amount=eur(1_000),
        now=utc_now() - timedelta(days=2),
    )
    loop = asyncio.create_task(expire_points_forever(every_seconds=0.01))
    try:
        for _ in range(500):
            # Finished, not just moved: the balance drops before the expiry's entry is settled,
            # and cancelling between the two would leave it half-done, as a crash would.
            current = await card_of(program, customer)
            if current.balance == 0 and not current.inflight:
                break
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    card = await assert_consistent(program, customer)
    assert card.balance == 0
    assert len(await entries(card, LedgerKind.EXPIRE)) == 1


async def test_a_retry_finishes_an_exchange_whose_process_died(tenant: Tenant) -> None:
    program, customer = await funded(tenant, 50)
    reward = await create_reward(
        project_id=tenant.project_id, data=RewardInput(campaign_id=program.key, name="Mug", cost=20)
    )
    card = await ensure_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    old = utc_now() - timedelta(minutes=5)
    # The dead attempt claimed the key and wrote its debit, but moved no points.
    claim = Exchange(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=customer.key,
        reward_id=reward.key,
        idempotency_key="k",
        cost=20,
        claimed_at=old,
        created_at=old,
    )
    await claim.insert()
    await LedgerEntry(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=customer.key,
        card_id=card.key,
        kind=LedgerKind.SPEND,
        points=-20,
        key=f"spend:{claim.id}",
        created_at=old,
    ).insert()
    result = await exchange_points(
        project_id=tenant.project_id,
        customer_id=customer.key,
        reward_id=reward.key,
        idempotency_key="k",
    )
    assert result.exchange.id == claim.id
    assert result.card.balance == 30
    assert len(await entries(card, LedgerKind.SPEND)) == 1
    assert (
        await exchange_points(
            project_id=tenant.project_id,
            customer_id=customer.key,
            reward_id=reward.key,
            idempotency_key="k",
        )
    ).card.balance == 30
    await repair_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=customer.key
    )
    await assert_consistent(program, customer)


async def test_earning_reversing_spending_and_expiring_at_once_keep_the_ledger_exact(
    tenant: Tenant,
) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, expiry_days=30)
    customer = await make_customer(project_id=tenant.project_id)
    old = utc_now() - timedelta(days=40)
    for n in range(10):
        await earn_for_order(
            project_id=tenant.project_id,
            customer_id=customer.key,
            order_id=f"old-{n}",
            amount=eur(1_000),
            now=old,
        )
    reward = await create_reward(
        project_id=tenant.project_id,
        data=RewardInput(campaign_id=program.key, name="Coffee", cost=15),
    )

    async def exchange(n: int) -> None:
        with contextlib.suppress(DomainError):
            await exchange_points(
                project_id=tenant.project_id,
                customer_id=customer.key,
                reward_id=reward.key,
                idempotency_key=f"k-{n}",
            )

    await asyncio.gather(
        *(
            earn_for_order(
                project_id=tenant.project_id,
                customer_id=customer.key,
                order_id=f"o-{n}",
                amount=eur(2_000),
            )
            for n in range(20)
        ),
        *(
            reverse_for_order(
                project_id=tenant.project_id, customer_id=customer.key, order_id=f"o-{n}"
            )
            for n in range(0, 20, 2)
        ),
        *(exchange(n) for n in range(20)),
        expire_points(),
        expire_points(),
    )
    await expire_points()
    card = await assert_consistent(program, customer)
    assert card.balance >= 0
    kinds = {entry.kind for entry in await entries(card)}
    assert {LedgerKind.EARN, LedgerKind.SPEND} <= kinds

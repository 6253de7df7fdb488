"""Experiments in the domain: sticky hash assignment, one running per campaign, publishing and
redeeming by variant, results against figures computed by hand, promotion."""

import asyncio
from collections import Counter
from datetime import datetime, timedelta

import pytest

from domain.campaigns import Campaign, Discount, DiscountInput, DiscountType, Rules, RulesInput
from domain.codes import Code, publish_code
from domain.common import utc_now
from domain.customers import Customer
from domain.discounts import Order as CheckedOrder
from domain.errors import DomainError
from domain.experiments import (
    BUCKETS,
    HOLDOUT,
    Experiment,
    ExperimentAssignment,
    ExperimentInput,
    ExperimentStatus,
    VariantInput,
    arm_for_bucket,
    assign,
    bucket,
    create_experiment,
    start_experiment,
    stop_experiment,
)
from domain.experiments.promotion import promote_variant
from domain.experiments.results import experiment_results
from domain.orders import Order, OrderInput, OrderStatus, record_order
from domain.redemptions import RedemptionChannel, redeem_code, validate_code
from domain.stats_tests import two_proportion_z_test
from tests.factories import Tenant, eur, make_campaign, make_customers

EXPERIMENT_ID = "665f1c2e9b1e8a0012345678"


def test_assignment_is_sticky_and_deterministic() -> None:
    arms = [("a", 50), ("b", 50)]
    first = [
        assign(experiment_id=EXPERIMENT_ID, customer_id=f"{i:024x}", arms=arms)
        for i in range(1_000)
    ]
    second = [
        assign(experiment_id=EXPERIMENT_ID, customer_id=f"{i:024x}", arms=arms)
        for i in range(1_000)
    ]
    assert first == second
    # The hash is sha256 of "experiment:customer" mod 10,000, fixed once and for all.
    assert (
        bucket(experiment_id=EXPERIMENT_ID, customer_id="cust-1")
        == bucket(experiment_id=EXPERIMENT_ID, customer_id="cust-1")
        < BUCKETS
    )
    # Another experiment shuffles the same customers differently.
    other = [
        assign(experiment_id="665f1c2e9b1e8a0087654321", customer_id=f"{i:024x}", arms=arms)
        for i in range(1_000)
    ]
    assert other != first


@pytest.mark.parametrize(
    "arms",
    [
        [("a", 50), ("b", 50)],
        [("a", 45), ("b", 45), (HOLDOUT, 10)],
        [("a", 1), ("b", 1), ("c", 1), ("d", 1), ("e", 1)],
        [("a", 40), ("b", 40), (HOLDOUT, 20)],
        [("a", 3), ("b", 1)],
    ],
)
def test_assignment_follows_the_weights_within_two_percent(arms: list[tuple[str, int]]) -> None:
    total = sum(weight for _, weight in arms)
    counts = Counter(
        assign(experiment_id=EXPERIMENT_ID, customer_id=f"{i:024x}", arms=arms)
        for i in range(100_000)
    )
    for key, weight in arms:
        share = counts[key] / 100_000
        expected = weight / total
        assert abs(share - expected) <= 0.02 * expected, (key, share, expected)


def test_buckets_map_onto_cumulative_weights() -> None:
    arms = [("a", 45), ("b", 45), (HOLDOUT, 10)]
    assert arm_for_bucket(position=0, arms=arms) == "a"
    assert arm_for_bucket(position=4_499, arms=arms) == "a"
    assert arm_for_bucket(position=4_500, arms=arms) == "b"
    assert arm_for_bucket(position=8_999, arms=arms) == "b"
    assert arm_for_bucket(position=9_000, arms=arms) == HOLDOUT
    assert arm_for_bucket(position=9_999, arms=arms) == HOLDOUT


def two_variants(holdout: int = 0) -> list[VariantInput]:
    return [
        VariantInput(
            key="pct20",
            name="20% off",
            weight=1,
            discount=DiscountInput(type=DiscountType.PERCENT, percent_off=20),
        ),
        VariantInput(
            key="eur5",
            weight=1,
            discount=DiscountInput(type=DiscountType.AMOUNT, amount_off=eur(500)),
        ),
    ]


async def running(project_id: str, campaign: Campaign, holdout: int = 1) -> Experiment:
    created = await create_experiment(
        project_id=project_id,
        data=ExperimentInput(
            campaign_id=campaign.key,
            name="Offer test",
            variants=two_variants(),
            holdout_weight=holdout,
        ),
    )
    return await start_experiment(project_id=project_id, experiment_id=created.key)


async def test_one_running_experiment_per_campaign_even_when_started_together(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    drafts = [
        await create_experiment(
            project_id=tenant.project_id,
            data=ExperimentInput(campaign_id=campaign.key, name=f"e{i}", variants=two_variants()),
        )
        for i in range(4)
    ]
    outcomes = await asyncio.gather(
        *(start_experiment(project_id=tenant.project_id, experiment_id=d.key) for d in drafts),
        return_exceptions=True,
    )
    started = [o for o in outcomes if isinstance(o, Experiment)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(started) == 1 and len(refused) == 3
    assert {e.code for e in refused} == {"EXPERIMENT_ALREADY_RUNNING"}
    statuses = Counter(
        e.status for e in await Experiment.find({"project_id": tenant.project_id}).to_list()
    )
    assert statuses == {ExperimentStatus.RUNNING: 1, ExperimentStatus.DRAFT: 3}
    # Once stopped, another one may run; a stopped one cannot run again.
    await stop_experiment(project_id=tenant.project_id, experiment_id=started[0].key)
    with pytest.raises(DomainError) as stopped:
        await start_experiment(project_id=tenant.project_id, experiment_id=started[0].key)
    assert stopped.value.code == "EXPERIMENT_STOPPED"
    other = next(d for d in drafts if d.key != started[0].key)
    assert (
        await start_experiment(project_id=tenant.project_id, experiment_id=other.key)
    ).status == ExperimentStatus.RUNNING


async def test_publish_assigns_variants_and_holds_out(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    # Published before the experiment: keeps the code and the campaign's offer, not enrolled.
    early = (await make_customers(project_id=tenant.project_id, count=1))[0]
    early_code = await publish_code(tenant.project_id, campaign.key, early.key)
    experiment = await running(tenant.project_id, campaign)
    customers = await make_customers(project_id=tenant.project_id, count=30)
    expected = {
        c.key: assign(experiment_id=experiment.key, customer_id=c.key, arms=experiment.arms)
        for c in customers
    }
    assert set(expected.values()) == {"pct20", "eur5", HOLDOUT}
    order = CheckedOrder(amount=eur(10_000))
    for customer in customers:
        arm = expected[customer.key]
        if arm == HOLDOUT:
            with pytest.raises(DomainError) as held:
                await publish_code(tenant.project_id, campaign.key, customer.key)
            assert held.value.code == "HOLDOUT"
            continue
        code = await publish_code(tenant.project_id, campaign.key, customer.key)
        again = await publish_code(tenant.project_id, campaign.key, customer.key)
        assert (code.variant, code.experiment_id) == (arm, experiment.key)
        assert again.id == code.id
        check = await validate_code(
            project_id=tenant.project_id, raw_code=code.code, customer_id=customer.key, order=order
        )
        assert check.discount == (eur(2_000) if arm == "pct20" else eur(500))
    assert await Code.find({"project_id": tenant.project_id, "variant": ""}).count() == 1
    assert (await publish_code(tenant.project_id, campaign.key, early.key)).id == early_code.id
    assert (
        await validate_code(
            project_id=tenant.project_id,
            raw_code=early_code.code,
            customer_id=early.key,
            order=order,
        )
    ).discount == (eur(1_000))
    stored = await ExperimentAssignment.find({"experiment_id": experiment.key}).to_list()
    assert {a.customer_id: a.variant for a in stored} == expected
    assert all(a.holdout == (a.variant == HOLDOUT) for a in stored)
    # Holdout customers never got a code of the campaign.
    held_out = [k for k, arm in expected.items() if arm == HOLDOUT]
    assert await Code.find({"customer_id": {"$in": held_out}}).count() == 0


async def test_results_match_a_hand_computation(tenant: Tenant) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id)
    experiment = await running(project_id, campaign)
    customers = await make_customers(project_id=project_id, count=40)
    arms: dict[str, list[Customer]] = {"pct20": [], "eur5": [], HOLDOUT: []}
    for customer in customers:
        arms[
            assign(experiment_id=experiment.key, customer_id=customer.key, arms=experiment.arms)
        ].append(customer)
    codes: dict[str, Code] = {}
    for customer in customers:
        try:
            codes[customer.key] = await publish_code(project_id, campaign.key, customer.key)
        except DomainError as error:
            assert error.code == "HOLDOUT"
    pct, flat, held = arms["pct20"][:4], arms["eur5"][:3], arms[HOLDOUT][:2]
    assert len(pct) == 4 and len(flat) == 3 and len(held) == 2
    # pct20: 3 redeem on a 100.00 order (20.00 off), one orders twice without a code.
    for n, customer in enumerate(pct[:3]):
        code = codes[customer.key].code
        await redeem_code(
            project_id=project_id,
            raw_code=code,
            customer_id=customer.key,
            order=CheckedOrder(id=f"p{n}", amount=eur(10_000)),
            idempotency_key=None,
            channel=RedemptionChannel.ONLINE,
            api_key_id="",
        )
        await record_order(
            project_id,
            OrderInput(order_id=f"p{n}", amount=eur(8_000), customer_id=customer.key, codes=[code]),
        )
    await record_order(
        project_id, OrderInput(order_id="p3a", amount=eur(3_000), customer_id=pct[3].key)
    )
    await record_order(
        project_id, OrderInput(order_id="p3b", amount=eur(1_000), customer_id=pct[3].key)
    )
    # eur5: one redeems on a 50.00 order; one order was placed before the assignment (left out).
    await redeem_code(
        project_id=project_id,
        raw_code=codes[flat[0].key].code,
        customer_id=flat[0].key,
        order=CheckedOrder(id="f0", amount=eur(5_000)),
        idempotency_key=None,
        channel=RedemptionChannel.ONLINE,
        api_key_id="",
    )
    await record_order(
        project_id, OrderInput(order_id="f0", amount=eur(4_500), customer_id=flat[0].key)
    )
    await Order(
        project_id=project_id,
        order_id="f1-early",
        customer_id=flat[1].key,
        amount=eur(9_900),
        created_at=utc_now() - timedelta(hours=1),
        effects_pending=False,
    ).insert()
    # holdout: one orders 20.00; another's order is cancelled (not a conversion).
    await record_order(
        project_id, OrderInput(order_id="h0", amount=eur(2_000), customer_id=held[0].key)
    )
    await record_order(
        project_id, OrderInput(order_id="h1", amount=eur(7_000), customer_id=held[1].key)
    )
    from domain.orders import set_order_status

    await set_order_status(project_id, "h1", OrderStatus.CANCELLED)

    results = await experiment_results(project_id=project_id, experiment_id=experiment.key)
    by_key = {arm.key: arm for arm in results.variants}
    assert results.currency == "EUR"
    pct_result, flat_result, holdout = by_key["pct20"], by_key["eur5"], results.holdout
    assert holdout is not None
    assert (pct_result.assigned, flat_result.assigned, holdout.assigned) == (
        len(arms["pct20"]),
        len(arms["eur5"]),
        len(arms[HOLDOUT]),
    )
    assert (pct_result.issued, flat_result.issued, holdout.issued) == (
        len(arms["pct20"]),
        len(arms["eur5"]),
        0,
    )
    assert (pct_result.redeemed, flat_result.redeemed, holdout.redeemed) == (3, 1, 0)
    assert (pct_result.converted, flat_result.converted, holdout.converted) == (4, 1, 1)
    assert (pct_result.orders, pct_result.revenue) == (5, 3 * 8_000 + 3_000 + 1_000)
    assert flat_result.revenue == 4_500
    assert holdout.revenue == 2_000
    assert (pct_result.discount_cost, flat_result.discount_cost) == (3 * 2_000, 500)
    assert pct_result.roi == pytest.approx((28_000 - 6_000) / 6_000)
    assert flat_result.roi == pytest.approx((4_500 - 500) / 500)
    assert holdout.roi is None
    assert pct_result.conversion == pytest.approx(4 / len(arms["pct20"]))
    expected = two_proportion_z_test(4, len(arms["pct20"]), 1, len(arms[HOLDOUT]))
    assert pct_result.against_holdout == expected
    assert results.decision is not None and results.decision.variant == "pct20"
    assert results.decision.against == HOLDOUT
    assert results.winner == ("pct20" if expected and expected.significant else None)


async def test_winner_needs_significance_and_promotion_changes_the_offer(tenant: Tenant) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id)
    experiment = await running(project_id, campaign, holdout=0)
    customers = await make_customers(project_id=project_id, count=60)
    for customer in customers:
        await publish_code(project_id, campaign.key, customer.key)
    results = await experiment_results(project_id=project_id, experiment_id=experiment.key)
    # Nobody ordered: no winner, and promotion without a key is refused, writing nothing.
    assert results.winner is None
    with pytest.raises(DomainError) as refused:
        await promote_variant(project_id=project_id, experiment_id=experiment.key)
    assert refused.value.code == "NO_SIGNIFICANT_WINNER"
    assert (await Campaign.get(campaign.id)).discount == campaign.discount  # type: ignore[union-attr]
    # Everyone on eur5 orders, nobody on pct20: eur5 beats the runner-up.
    for n, customer in enumerate(customers):
        if (
            assign(experiment_id=experiment.key, customer_id=customer.key, arms=experiment.arms)
            == "eur5"
        ):
            await record_order(
                project_id,
                OrderInput(order_id=f"o{n}", amount=eur(1_000), customer_id=customer.key),
            )
    results = await experiment_results(project_id=project_id, experiment_id=experiment.key)
    assert results.decision is not None and results.decision.against == "pct20"
    assert results.winner == "eur5"
    promoted, updated = await promote_variant(project_id=project_id, experiment_id=experiment.key)
    assert promoted.status == ExperimentStatus.STOPPED and promoted.promoted_variant == "eur5"
    assert updated.discount == Discount(type=DiscountType.AMOUNT, amount_off=eur(500))
    with pytest.raises(DomainError) as again:
        await promote_variant(
            project_id=project_id, experiment_id=experiment.key, variant_key="pct20"
        )
    assert again.value.code == "ALREADY_PROMOTED"
    # New customers get the promoted offer without a variant.
    newcomer = (await make_customers(project_id=project_id, count=1))[0]
    code = await publish_code(project_id, campaign.key, newcomer.key)
    assert code.variant == ""
    check = await validate_code(
        project_id=project_id,
        raw_code=code.code,
        customer_id=newcomer.key,
        order=CheckedOrder(amount=eur(9_000)),
    )
    assert check.discount == eur(500)


async def test_a_variant_with_its_own_rules_validates_and_promotes_by_them(
    tenant: Tenant,
) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id)
    strict = VariantInput(key="strict", rules=RulesInput(min_order=eur(5_000), hours=[9, 10]))
    created = await create_experiment(
        project_id=project_id,
        data=ExperimentInput(
            campaign_id=campaign.key, name="Rules", variants=[strict, VariantInput(key="open")]
        ),
    )
    assert created.variants[0].rules == Rules(min_order=eur(5_000), hours=[9, 10])
    assert created.variants[1].rules is None
    experiment = await start_experiment(project_id=project_id, experiment_id=created.key)
    customers = await make_customers(project_id=project_id, count=20)
    codes = [await publish_code(project_id, campaign.key, c.key) for c in customers]
    held = {
        variant: next(c for c in codes if c.variant == variant) for variant in ("strict", "open")
    }
    # 09:30 and 12:30 UTC yesterday (always past, whenever the test runs); the zone is UTC.
    morning = (utc_now() - timedelta(days=1)).replace(hour=9, minute=30)
    noon = morning.replace(hour=12)
    small, large = CheckedOrder(amount=eur(3_000)), CheckedOrder(amount=eur(6_000))

    async def reasons(code: Code, order: CheckedOrder, at: datetime) -> set[str]:
        check = await validate_code(
            project_id=project_id,
            raw_code=code.code,
            customer_id=code.customer_id,
            order=order,
            now=at,
        )
        return {reason.value for reason in check.reasons}

    assert await reasons(held["strict"], small, morning) == {"MIN_ORDER_NOT_MET"}
    assert await reasons(held["strict"], large, noon) == {"OUTSIDE_HOURS"}
    assert await reasons(held["strict"], large, morning) == set()
    # The other variant, and the campaign itself, keep the campaign's rules.
    assert await reasons(held["open"], small, noon) == set()
    # Redeeming goes by the same rules.
    strict_code, owner = held["strict"].code, held["strict"].customer_id
    with pytest.raises(DomainError) as below:
        await redeem_code(
            project_id=project_id,
            raw_code=strict_code,
            customer_id=owner,
            order=small,
            idempotency_key=None,
            channel=RedemptionChannel.ONLINE,
            api_key_id="",
            now=morning,
        )
    assert below.value.code == "MIN_ORDER_NOT_MET"
    redeemed = await redeem_code(
        project_id=project_id,
        raw_code=strict_code,
        customer_id=owner,
        order=large,
        idempotency_key=None,
        channel=RedemptionChannel.ONLINE,
        api_key_id="",
        now=morning,
    )
    assert redeemed.variant == "strict"

    # Rules are checked as updateCampaign checks them, on the variant's field.
    with pytest.raises(DomainError) as refused:
        await create_experiment(
            project_id=project_id,
            data=ExperimentInput(
                campaign_id=campaign.key,
                name="Bad",
                variants=[VariantInput(key="a", rules=RulesInput(hours=[25])), VariantInput("b")],
            ),
        )
    assert refused.value.problems[0].field == "variants.0.rules.hours"

    _, promoted = await promote_variant(
        project_id=project_id, experiment_id=experiment.key, variant_key="strict"
    )
    assert promoted.rules == Rules(min_order=eur(5_000), hours=[9, 10])
    assert promoted.discount == campaign.discount

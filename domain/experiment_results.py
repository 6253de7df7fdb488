"""An experiment's results per arm, from the orders and redemptions since each customer's
assignment, and the promotion of a variant to its campaign. Above domain.experiments, which
orders and redemptions build on."""

import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.campaigns import (
    Campaign,
    CampaignInput,
    Discount,
    DiscountInput,
    Rules,
    RulesInput,
    get_campaign,
    update_campaign,
)
from domain.code_models import Code
from domain.common import as_utc, utc_now
from domain.errors import DomainError
from domain.experiments import (
    HOLDOUT,
    Experiment,
    ExperimentAssignment,
    ExperimentStatus,
    get_experiment,
    stop_experiment,
)
from domain.orders import Order, OrderStatus
from domain.redemptions import Redemption, RedemptionStatus
from domain.stats_tests import ProportionTest, two_proportion_z_test

# Customers per orders query when joining assignments to orders (no $lookup on the embedded server).
ORDER_QUERY_CHUNK = 1_000

# Results.


@dataclass
class ArmResult:
    key: str
    name: str
    weight: int
    holdout: bool
    discount: Discount | None = None
    assigned: int = 0
    issued: int = 0
    redeemed: int = 0
    # Assigned customers with a paid order after their assignment, inside the window.
    converted: int = 0
    orders: int = 0
    # In ExperimentResults.currency, minor units.
    revenue: int = 0
    discount_cost: int = 0
    # The variant against the holdout; None without a holdout (or for the holdout itself).
    against_holdout: ProportionTest | None = None

    @property
    def conversion(self) -> float:
        return self.converted / self.assigned if self.assigned else 0.0

    @property
    def roi(self) -> float | None:
        """(revenue - discount cost) / discount cost; None when nothing was given away."""
        if not self.discount_cost:
            return None
        return (self.revenue - self.discount_cost) / self.discount_cost


@dataclass
class Decision:
    """The test that decides: the best variant against the holdout, else against the runner-up."""

    variant: str
    against: str
    test: ProportionTest


@dataclass
class ExperimentResults:
    experiment: Experiment
    currency: str
    window_start: datetime | None
    window_end: datetime | None
    variants: list[ArmResult]
    holdout: ArmResult | None
    decision: Decision | None
    # The variant's key, only when the decision is significant at the experiment's alpha.
    winner: str | None


def _campaign_currency(campaign: Campaign) -> str:
    discount = campaign.discount
    amounts = [campaign.rules.min_order]
    if discount is not None:
        amounts += [discount.amount_off, discount.max_discount, discount.fixed_price]
    return next((m.currency for m in amounts if m is not None), "")


async def _grouped(collection: Any, match: dict[str, Any], sum_of: str | int) -> dict[str, int]:
    """{variant: $sum} over documents matching `match`, grouped on the plain `variant` field."""
    cursor = await collection.aggregate(
        [{"$match": match}, {"$group": {"_id": "$variant", "n": {"$sum": sum_of}}}]
    )
    return {str(row["_id"]): int(row["n"] or 0) async for row in cursor}


async def _conversions(
    experiment: Experiment, start: datetime, end: datetime, currency: str
) -> tuple[dict[str, dict[str, int]], str]:
    """Per arm: converted customers, orders and revenue. Orders are grouped per customer by a
    pipeline over the assigned customers (the embedded server has no $lookup), then each
    customer's orders before their assignment are left out."""
    assignments = (
        await ExperimentAssignment.get_pymongo_collection()
        .find(
            {"project_id": experiment.project_id, "experiment_id": experiment.key},
            {"customer_id": 1, "variant": 1, "assigned_at": 1},
        )
        .to_list()
    )
    assigned = {
        row["customer_id"]: (row["variant"], as_utc(row["assigned_at"])) for row in assignments
    }
    customer_ids = list(assigned)
    per_customer: dict[str, list[tuple[datetime, int, str]]] = {}
    for offset in range(0, len(customer_ids), ORDER_QUERY_CHUNK):
        chunk = customer_ids[offset : offset + ORDER_QUERY_CHUNK]
        cursor = await Order.get_pymongo_collection().aggregate(
            [
                {
                    "$match": {
                        "project_id": experiment.project_id,
                        "customer_id": {"$in": chunk},
                        "status": OrderStatus.PAID.value,
                        # nx-27017 matches nothing with $lt on a date inside $match: the end
                        # of the window is applied below, with each customer's assignment.
                        "created_at": {"$gte": start},
                    }
                },
                {
                    "$group": {
                        "_id": "$customer_id",
                        "at": {"$push": "$created_at"},
                        "amount": {"$push": "$amount.amount"},
                        "currency": {"$push": "$amount.currency"},
                    }
                },
            ]
        )
        async for row in cursor:
            per_customer[str(row["_id"])] = list(
                zip(row["at"], row["amount"], row["currency"], strict=True)
            )
    after: dict[str, list[tuple[str, int, str]]] = {}
    for customer_id, orders in per_customer.items():
        variant, assigned_at = assigned[customer_id]
        kept = [(variant, int(a), cur) for at, a, cur in orders if assigned_at <= as_utc(at) < end]
        if kept:
            after[customer_id] = kept
    if not currency:
        seen = Counter(cur for converted in after.values() for _, _, cur in converted)
        currency = min(seen, key=lambda c: (-seen[c], c)) if seen else ""
    totals: dict[str, dict[str, int]] = {}
    for converted in after.values():
        arm = totals.setdefault(converted[0][0], {"converted": 0, "orders": 0, "revenue": 0})
        arm["converted"] += 1
        arm["orders"] += len(converted)
        arm["revenue"] += sum(amount for _, amount, cur in converted if cur == currency)
    return totals, currency


async def experiment_results(
    project_id: str, experiment_id: str, now: datetime | None = None
) -> ExperimentResults:
    """Figures per arm. Conversion and revenue count paid orders from each customer's assignment
    to the stop (or now); redeemed and discount cost count every successful redemption of the
    codes published in the experiment, since a code keeps its variant's offer after the stop."""
    experiment = await get_experiment(project_id, experiment_id)
    campaign = await get_campaign(project_id, experiment.campaign_id)
    arms = [
        ArmResult(key=v.key, name=v.name, weight=v.weight, holdout=False, discount=v.discount)
        for v in experiment.variants
    ]
    holdout = (
        ArmResult(key=HOLDOUT, name="Holdout", weight=experiment.holdout_weight, holdout=True)
        if experiment.holdout_weight
        else None
    )
    start = as_utc(experiment.started_at) if experiment.started_at else None
    end = as_utc(experiment.stopped_at) if experiment.stopped_at else as_utc(now or utc_now())
    currency = _campaign_currency(campaign)
    if start is not None:
        scope = {"project_id": project_id, "experiment_id": experiment.key}
        assigned = await _grouped(ExperimentAssignment.get_pymongo_collection(), scope, 1)
        issued = await _grouped(
            Code.get_pymongo_collection(),
            {"project_id": project_id, "campaign_id": campaign.key, "assigned": True, **scope},
            1,
        )
        redeemed_scope = {
            "project_id": project_id,
            "campaign_id": campaign.key,
            "experiment_id": experiment.key,
            "status": RedemptionStatus.SUCCEEDED.value,
        }
        redemptions = Redemption.get_pymongo_collection()
        redeemed = await _grouped(redemptions, redeemed_scope, 1)
        conversions, currency = await _conversions(experiment, start, end, currency)
        cost = await _grouped(
            redemptions, {**redeemed_scope, "discount.currency": currency}, "$discount.amount"
        )
        for arm in [*arms, *([holdout] if holdout else [])]:
            arm.assigned = assigned.get(arm.key, 0)
            arm.issued = issued.get(arm.key, 0)
            arm.redeemed = redeemed.get(arm.key, 0)
            arm.discount_cost = cost.get(arm.key, 0)
            found = conversions.get(arm.key, {})
            arm.converted = found.get("converted", 0)
            arm.orders = found.get("orders", 0)
            arm.revenue = found.get("revenue", 0)
    alpha = experiment.alpha
    decision: Decision | None = None
    if holdout is not None:
        for arm in arms:
            arm.against_holdout = two_proportion_z_test(
                arm.converted, arm.assigned, holdout.converted, holdout.assigned, alpha
            )
    # The best variant by conversion; ties keep the order the variants were given in.
    ranked = sorted(arms, key=lambda a: -a.conversion)
    best = ranked[0]
    if holdout is not None:
        test = best.against_holdout
        decision = Decision(best.key, HOLDOUT, test) if test is not None else None
    else:
        runner_up = ranked[1]
        test = two_proportion_z_test(
            best.converted, best.assigned, runner_up.converted, runner_up.assigned, alpha
        )
        decision = Decision(best.key, runner_up.key, test) if test is not None else None
    winner = (
        decision.variant
        if decision is not None and decision.test.significant and decision.test.difference > 0
        else None
    )
    return ExperimentResults(
        experiment=experiment,
        currency=currency,
        window_start=start,
        window_end=end if start is not None else None,
        variants=arms,
        holdout=holdout,
        decision=decision,
        winner=winner,
    )


# Promotion.


def _rules_input(rules: Rules) -> RulesInput:
    """Every field given, so the campaign's rules become exactly these."""
    return RulesInput(
        min_order=rules.min_order,
        segment_ids=rules.segment_ids,
        skus=rules.skus,
        categories=rules.categories,
        first_order_only=rules.first_order_only,
        days_of_week=rules.days_of_week,
        hours=rules.hours,
        customer_tags=rules.customer_tags,
        attributes=rules.attributes,
    )


def _as_input(discount: Discount) -> DiscountInput:
    """Every field given, so the campaign's discount becomes exactly this one."""
    return DiscountInput(
        type=discount.type,
        percent_off=discount.percent_off,
        amount_off=discount.amount_off,
        max_discount=discount.max_discount,
        fixed_price=discount.fixed_price,
        scope=discount.scope,
    )


async def promote_variant(
    project_id: str, experiment_id: str, variant_key: str | None = None
) -> tuple[Experiment, Campaign]:
    """Makes a variant's discount and rules the campaign's (through updateCampaign) and stops
    the experiment. Without a key the significant winner is promoted, and none refuses; a key given
    promotes that variant whatever the results say. A retry after a crash finishes the job."""
    experiment = await get_experiment(project_id, experiment_id)
    if experiment.status == ExperimentStatus.DRAFT or experiment.started_at is None:
        raise DomainError("EXPERIMENT_NOT_STARTED", "the experiment has not run", "id")
    key = (variant_key or "").strip()
    if not key:
        results = await experiment_results(project_id, experiment_id)
        if results.winner is None:
            raise DomainError(
                "NO_SIGNIFICANT_WINNER",
                f"no variant is significantly better at alpha {experiment.alpha}; "
                "give variantKey to promote one anyway",
                "id",
            )
        key = results.winner
    variant = experiment.variant(key)
    if variant is None:
        raise DomainError("UNKNOWN_VARIANT", "the experiment has no such variant", "variantKey")
    if experiment.promoted and experiment.promoted_variant != key:
        raise DomainError(
            "ALREADY_PROMOTED",
            f"variant {experiment.promoted_variant!r} was already promoted",
            "id",
        )
    collection = Experiment.get_pymongo_collection()
    claimed = await collection.update_one(
        {"_id": experiment.id, "project_id": project_id, "promoted": False},
        {"$set": {"promoted": True, "promoted_variant": key, "promoted_at": utc_now()}},
    )
    if claimed.modified_count == 0:
        current = await get_experiment(project_id, experiment_id)
        if current.promoted_variant != key:
            raise DomainError(
                "ALREADY_PROMOTED",
                f"variant {current.promoted_variant!r} was already promoted",
                "id",
            )
    try:
        if variant.discount is not None or variant.rules is not None:
            campaign = await update_campaign(
                project_id,
                experiment.campaign_id,
                CampaignInput(
                    discount=_as_input(variant.discount) if variant.discount else None,
                    rules=_rules_input(variant.rules) if variant.rules else None,
                ),
            )
        else:
            campaign = await get_campaign(project_id, experiment.campaign_id)
    except DomainError:
        if claimed.modified_count:
            # The campaign refused the offer (it changed since): the promotion did not happen.
            await collection.update_one(
                {"_id": experiment.id, "promoted_variant": key},
                {"$set": {"promoted": False, "promoted_variant": "", "promoted_at": None}},
            )
        raise
    with contextlib.suppress(DomainError):
        await stop_experiment(project_id, experiment_id)
    return await get_experiment(project_id, experiment_id), campaign

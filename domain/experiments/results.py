"""An experiment's results per arm, from the orders and redemptions since each customer's
assignment, and the promotion of a variant to its campaign. Above domain.experiments' other
modules, which orders and redemptions build on."""

import contextlib
from collections import Counter
from collections.abc import Callable
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
    campaigns_by_id,
    get_campaign,
    update_campaign,
)
from domain.code_models import Code
from domain.common import as_utc, utc_now
from domain.errors import DomainError, NotFound
from domain.experiments.models import HOLDOUT, Experiment, ExperimentAssignment, ExperimentStatus
from domain.experiments.service import get_experiment, stop_experiment
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


# One experiment's arm: (experiment id, arm key).
ArmOf = tuple[str, str]


def _arm_keys(experiment: Experiment) -> list[str]:
    return [key for key, _ in experiment.arms]


async def _arm_sums(
    collection: Any,
    match: dict[str, Any],
    experiments: list[Experiment],
    sum_of: str | int,
    also: Callable[[Experiment], list[dict[str, Any]]] = lambda _: [],
) -> dict[ArmOf, int]:
    """$sum per arm of every experiment over documents matching `match` whose experiment_id
    and variant name that arm (and that pass `also` for the experiment), in one aggregation.
    One conditional sum per arm: the embedded server cannot group on a compound key."""
    arms: dict[str, ArmOf] = {}
    sums: dict[str, Any] = {}
    for experiment in experiments:
        for key in _arm_keys(experiment):
            name = f"a{len(arms)}"
            arms[name] = (experiment.key, key)
            condition = [
                {"$eq": ["$experiment_id", experiment.key]},
                {"$eq": ["$variant", key]},
                *also(experiment),
            ]
            sums[name] = {"$sum": {"$cond": [{"$and": condition}, sum_of, 0]}}
    wanted = [experiment.key for experiment in experiments]
    cursor = await collection.aggregate(
        [
            {"$match": {**match, "experiment_id": {"$in": wanted}}},
            {"$group": {"_id": None, **sums}},
        ]
    )
    found = await cursor.to_list(None)
    row = found[0] if found else {}
    return {arm: int(row.get(name) or 0) for name, arm in arms.items()}


@dataclass
class _Window:
    start: datetime
    end: datetime


async def _conversions(
    project_id: str, windows: dict[str, _Window], currencies: dict[str, str]
) -> tuple[dict[ArmOf, dict[str, int]], dict[str, str]]:
    """Per experiment arm: converted customers, orders and revenue; and each experiment's
    currency (its campaign's, else the one most of its converted orders were in). Orders are
    grouped per customer by a pipeline over the assigned customers (the embedded server has no
    $lookup), then each customer's orders outside their assignment to the window's end are
    left out."""
    assignments = (
        await ExperimentAssignment.get_pymongo_collection()
        .find(
            {"project_id": project_id, "experiment_id": {"$in": list(windows)}},
            {"experiment_id": 1, "customer_id": 1, "variant": 1, "assigned_at": 1},
        )
        .to_list()
    )
    assigned: dict[str, dict[str, tuple[str, datetime]]] = {key: {} for key in windows}
    for row in assignments:
        assigned[row["experiment_id"]][row["customer_id"]] = (
            row["variant"],
            as_utc(row["assigned_at"]),
        )
    customer_ids = list(dict.fromkeys(c for by_customer in assigned.values() for c in by_customer))
    earliest = min(window.start for window in windows.values())
    per_customer: dict[str, list[tuple[datetime, int, str]]] = {}
    for offset in range(0, len(customer_ids), ORDER_QUERY_CHUNK):
        chunk = customer_ids[offset : offset + ORDER_QUERY_CHUNK]
        cursor = await Order.get_pymongo_collection().aggregate(
            [
                {
                    "$match": {
                        "project_id": project_id,
                        "customer_id": {"$in": chunk},
                        "status": OrderStatus.PAID.value,
                        # nx-27017 matches nothing with $lt on a date inside $match: the end
                        # of the window is applied below, with each customer's assignment.
                        "created_at": {"$gte": earliest},
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
    totals: dict[ArmOf, dict[str, int]] = {}
    chosen: dict[str, str] = {}
    for experiment_id, window in windows.items():
        after: dict[str, list[tuple[str, int, str]]] = {}
        for customer_id, (variant, assigned_at) in assigned[experiment_id].items():
            kept = [
                (variant, int(amount), cur)
                for at, amount, cur in per_customer.get(customer_id, [])
                if window.start <= as_utc(at) and assigned_at <= as_utc(at) < window.end
            ]
            if kept:
                after[customer_id] = kept
        currency = currencies[experiment_id]
        if not currency:
            seen = Counter(cur for converted in after.values() for _, _, cur in converted)
            currency = min(seen, key=lambda c: (-seen[c], c)) if seen else ""
        chosen[experiment_id] = currency
        for converted in after.values():
            arm = totals.setdefault(
                (experiment_id, converted[0][0]), {"converted": 0, "orders": 0, "revenue": 0}
            )
            arm["converted"] += 1
            arm["orders"] += len(converted)
            arm["revenue"] += sum(amount for _, amount, cur in converted if cur == currency)
    return totals, chosen


async def experiment_results(
    project_id: str, experiment_id: str, now: datetime | None = None
) -> ExperimentResults:
    """Figures per arm. Conversion and revenue count paid orders from each customer's assignment
    to the stop (or now); redeemed and discount cost count every successful redemption of the
    codes published in the experiment, since a code keeps its variant's offer after the stop."""
    experiment = await get_experiment(project_id, experiment_id)
    found = await experiments_results(project_id, [experiment], now)
    if experiment.key not in found:
        raise NotFound("campaign", "campaignId")
    return found[experiment.key]


async def experiments_results(
    project_id: str, experiments: list[Experiment], now: datetime | None = None
) -> dict[str, ExperimentResults]:
    """experiment_results of several experiments of the project, by id: each figure is read
    once for all of them. One whose campaign cannot be found is left out."""
    ids = [e.campaign_id for e in experiments if e.project_id == project_id]
    found = await campaigns_by_id(project_id, ids)
    mine = {e.key: e for e in experiments if e.project_id == project_id and e.campaign_id in found}
    campaign_of = {key: found[e.campaign_id] for key, e in mine.items()}
    moment = as_utc(now or utc_now())
    windows = {
        key: _Window(as_utc(e.started_at), as_utc(e.stopped_at) if e.stopped_at else moment)
        for key, e in mine.items()
        if e.started_at is not None
    }
    currencies = {key: _campaign_currency(campaign) for key, campaign in campaign_of.items()}
    figures: dict[str, dict[ArmOf, int]] = {}
    conversions: dict[ArmOf, dict[str, int]] = {}
    if windows:
        started = [mine[key] for key in windows]

        def in_campaign(experiment: Experiment) -> list[dict[str, Any]]:
            return [{"$eq": ["$campaign_id", experiment.campaign_id]}]

        figures["assigned"] = await _arm_sums(
            ExperimentAssignment.get_pymongo_collection(), {"project_id": project_id}, started, 1
        )
        figures["issued"] = await _arm_sums(
            Code.get_pymongo_collection(),
            {"project_id": project_id, "assigned": True},
            started,
            1,
            in_campaign,
        )
        redemptions = Redemption.get_pymongo_collection()
        succeeded = {"project_id": project_id, "status": RedemptionStatus.SUCCEEDED.value}
        figures["redeemed"] = await _arm_sums(redemptions, succeeded, started, 1, in_campaign)
        conversions, chosen = await _conversions(project_id, windows, currencies)
        currencies |= chosen

        def in_campaign_and_currency(experiment: Experiment) -> list[dict[str, Any]]:
            currency = currencies[experiment.key]
            return [*in_campaign(experiment), {"$eq": ["$discount.currency", currency]}]

        figures["discount_cost"] = await _arm_sums(
            redemptions, succeeded, started, "$discount.amount", in_campaign_and_currency
        )
    return {
        key: _results(experiment, currencies[key], windows.get(key), figures, conversions)
        for key, experiment in mine.items()
    }


def _results(
    experiment: Experiment,
    currency: str,
    window: _Window | None,
    figures: dict[str, dict[ArmOf, int]],
    conversions: dict[ArmOf, dict[str, int]],
) -> ExperimentResults:
    arms = [
        ArmResult(key=v.key, name=v.name, weight=v.weight, holdout=False, discount=v.discount)
        for v in experiment.variants
    ]
    holdout = (
        ArmResult(key=HOLDOUT, name="Holdout", weight=experiment.holdout_weight, holdout=True)
        if experiment.holdout_weight
        else None
    )
    if window is not None:
        for arm in [*arms, *([holdout] if holdout else [])]:
            of = (experiment.key, arm.key)
            arm.assigned = figures["assigned"].get(of, 0)
            arm.issued = figures["issued"].get(of, 0)
            arm.redeemed = figures["redeemed"].get(of, 0)
            arm.discount_cost = figures["discount_cost"].get(of, 0)
            found = conversions.get(of, {})
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
        window_start=window.start if window else None,
        window_end=window.end if window else None,
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

"""An experiment's results per arm and the test that decides, above orders and redemptions."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.campaigns import (
    Campaign,
    Discount,
    campaigns_by_id,
)
from domain.code_models import Code
from domain.common import as_utc, utc_now
from domain.errors import NotFound
from domain.experiments.figures import ArmOf, ConversionWindow, arm_conversions, arm_sums
from domain.experiments.models import HOLDOUT, Experiment, ExperimentAssignment
from domain.experiments.service import get_experiment
from domain.redemptions import Redemption, RedemptionStatus
from domain.stats_tests import ProportionTest, two_proportion_z_test


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


async def experiment_results(
    *, project_id: str, experiment_id: str, now: datetime | None = None
) -> ExperimentResults:
    """Figures per arm. Conversion and revenue count paid orders from each customer's assignment
    to the stop (or now); redeemed and discount cost count every successful redemption of the
    codes published in the experiment, since a code keeps its variant's offer after the stop."""
    experiment = await get_experiment(project_id=project_id, experiment_id=experiment_id)
    found = await experiments_results(project_id=project_id, experiments=[experiment], now=now)
    if experiment.key not in found:
        raise NotFound("campaign", "campaignId")
    return found[experiment.key]


async def experiments_results(
    *, project_id: str, experiments: list[Experiment], now: datetime | None = None
) -> dict[str, ExperimentResults]:
    """experiment_results of several experiments of the project, by id: each figure is read
    once for all of them. One whose campaign cannot be found is left out."""
    ids = [e.campaign_id for e in experiments if e.project_id == project_id]
    found = await campaigns_by_id(project_id=project_id, campaign_ids=ids)
    mine = {e.key: e for e in experiments if e.project_id == project_id and e.campaign_id in found}
    campaign_of = {key: found[e.campaign_id] for key, e in mine.items()}
    moment = as_utc(now or utc_now())
    windows = {
        key: ConversionWindow(
            as_utc(e.started_at), as_utc(e.stopped_at) if e.stopped_at else moment
        )
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

        figures["assigned"] = await arm_sums(
            collection=ExperimentAssignment.get_pymongo_collection(),
            match={"project_id": project_id},
            experiments=started,
            sum_of=1,
        )
        figures["issued"] = await arm_sums(
            collection=Code.get_pymongo_collection(),
            match={"project_id": project_id, "assigned": True},
            experiments=started,
            sum_of=1,
            also=in_campaign,
        )
        redemptions = Redemption.get_pymongo_collection()
        succeeded = {"project_id": project_id, "status": RedemptionStatus.SUCCEEDED.value}
        figures["redeemed"] = await arm_sums(
            collection=redemptions, match=succeeded, experiments=started, sum_of=1, also=in_campaign
        )
        conversions, chosen = await arm_conversions(
            project_id=project_id, windows=windows, currencies=currencies
        )
        currencies |= chosen

        def in_campaign_and_currency(experiment: Experiment) -> list[dict[str, Any]]:
            currency = currencies[experiment.key]
            return [*in_campaign(experiment), {"$eq": ["$discount.currency", currency]}]

        figures["discount_cost"] = await arm_sums(
            collection=redemptions,
            match=succeeded,
            experiments=started,
            sum_of="$discount.amount",
            also=in_campaign_and_currency,
        )
    return {
        key: _results(experiment, currencies[key], windows.get(key), figures, conversions)
        for key, experiment in mine.items()
    }


def _results(
    experiment: Experiment,
    currency: str,
    window: ConversionWindow | None,
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

"""Promoting an experiment's variant: its offer becomes the campaign's, the experiment stops."""

import contextlib

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
from domain.common import utc_now
from domain.errors import DomainError
from domain.experiments.errors import ExperimentError
from domain.experiments.models import Experiment, ExperimentStatus
from domain.experiments.results import experiment_results
from domain.experiments.service import get_experiment, stop_experiment


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
    *, project_id: str, experiment_id: str, variant_key: str | None = None
) -> tuple[Experiment, Campaign]:
    """Makes a variant's discount and rules the campaign's (through updateCampaign) and stops
    the experiment. Without a key the significant winner is promoted, and none refuses; a key given
    promotes that variant whatever the results say. A retry after a crash finishes the job."""
    experiment = await get_experiment(project_id=project_id, experiment_id=experiment_id)
    if experiment.status == ExperimentStatus.DRAFT or experiment.started_at is None:
        raise DomainError(
            ExperimentError.EXPERIMENT_NOT_STARTED, "the experiment has not run", "id"
        )
    key = (variant_key or "").strip()
    if not key:
        results = await experiment_results(project_id=project_id, experiment_id=experiment_id)
        if results.winner is None:
            raise DomainError(
                ExperimentError.NO_SIGNIFICANT_WINNER,
                f"no variant is significantly better at alpha {experiment.alpha}; "
                "give variantKey to promote one anyway",
                "id",
            )
        key = results.winner
    variant = experiment.variant(key)
    if variant is None:
        raise DomainError(
            ExperimentError.UNKNOWN_VARIANT, "the experiment has no such variant", "variantKey"
        )
    if experiment.promoted and experiment.promoted_variant != key:
        raise DomainError(
            ExperimentError.ALREADY_PROMOTED,
            f"variant {experiment.promoted_variant!r} was already promoted",
            "id",
        )
    collection = Experiment.get_pymongo_collection()
    claimed = await collection.update_one(
        {"_id": experiment.id, "project_id": project_id, "promoted": False},
        {"$set": {"promoted": True, "promoted_variant": key, "promoted_at": utc_now()}},
    )
    if claimed.modified_count == 0:
        current = await get_experiment(project_id=project_id, experiment_id=experiment_id)
        if current.promoted_variant != key:
            raise DomainError(
                ExperimentError.ALREADY_PROMOTED,
                f"variant {current.promoted_variant!r} was already promoted",
                "id",
            )
    try:
        if variant.discount is not None or variant.rules is not None:
            campaign = await update_campaign(
                project_id=project_id,
                campaign_id=experiment.campaign_id,
                data=CampaignInput(
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
        await stop_experiment(project_id=project_id, experiment_id=experiment_id)
    return await get_experiment(project_id=project_id, experiment_id=experiment_id), campaign

"""Checking an experiment's input: variants, weights, its campaign."""

import re
from dataclasses import dataclass, field
from typing import Any

from domain import campaigns
from domain.campaigns import (
    Campaign,
    CampaignInput,
    CampaignKind,
    CampaignStatus,
    DiscountInput,
    RulesInput,
)
from domain.common import as_utc, object_id, utc_now
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.experiments.errors import ExperimentError
from domain.experiments.models import HOLDOUT, Variant
from domain.stats_tests import DEFAULT_ALPHA
from domain.templates import MessageTemplate

MIN_VARIANTS = 2
MAX_VARIANTS = 5
MAX_NAME = 200
MAX_ALPHA = 0.5
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass
class VariantInput:
    key: str
    name: str = ""
    weight: int = 1
    discount: DiscountInput | None = None
    rules: RulesInput | None = None
    template_id: str = ""


@dataclass
class ExperimentInput:
    campaign_id: str
    name: str
    variants: list[VariantInput] = field(default_factory=list)
    holdout_weight: int = 0
    alpha: float = DEFAULT_ALPHA


def is_weight(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def checked_variant(
    *, project_id: str, campaign: Campaign, index: int, given: VariantInput, problems: list[Problem]
) -> Variant:
    where = f"variants.{index}"
    key = given.key.strip()
    if not _KEY.match(key):
        problems.append(
            Problem(
                ExperimentError.INVALID_KEY,
                "a key is 1 to 40 letters, digits, '-' or '_', starting with a letter or digit",
                f"{where}.key",
            )
        )
    elif key.lower() == HOLDOUT:
        problems.append(
            Problem(ExperimentError.RESERVED_KEY, "'holdout' names the holdout", f"{where}.key")
        )
    name = given.name.strip() or key
    if len(name) > MAX_NAME:
        problems.append(
            Problem(CommonError.INVALID, f"name is at most {MAX_NAME} characters", f"{where}.name")
        )
    if not is_weight(given.weight) or given.weight < 1:
        problems.append(
            Problem(
                ExperimentError.INVALID_WEIGHT,
                "a weight is a whole number of 1 or more",
                f"{where}.weight",
            )
        )
    discount, rules = None, None
    if given.discount is not None or given.rules is not None:
        try:
            # The checks updateCampaign makes, so promoting the variant cannot be refused later.
            checked = campaigns._validated(
                CampaignInput(discount=given.discount, rules=given.rules), campaign
            )
            discount = checked["discount"] if given.discount is not None else None
            rules = checked["rules"] if given.rules is not None else None
        except DomainError as error:
            problems += [
                Problem(p.code, p.message, f"{where}.{p.field}" if p.field else where)
                for p in error.problems
            ]
    template_id = given.template_id.strip()
    if template_id:
        try:
            found = await MessageTemplate.find_one(
                {"_id": object_id(template_id, "template"), "project_id": project_id}
            )
        except NotFound:
            found = None
        if found is None:
            problems.append(
                Problem(CommonError.NOT_FOUND, "template not found", f"{where}.templateId")
            )
    return Variant(
        key=key,
        name=name,
        weight=given.weight if is_weight(given.weight) else 0,
        discount=discount,
        rules=rules,
        template_id=template_id,
    )


def campaign_problems(campaign: Campaign) -> list[Problem]:
    field_name = "campaignId"
    if campaign.kind != CampaignKind.DISCOUNT:
        return [
            Problem(
                CommonError.CAMPAIGN_NOT_DISCOUNT, "only discount campaigns have codes", field_name
            )
        ]
    if campaign.status == CampaignStatus.ENDED or (
        campaign.ends_at is not None and utc_now() >= as_utc(campaign.ends_at)
    ):
        return [Problem(CommonError.CAMPAIGN_ENDED, "the campaign has ended", field_name)]
    if campaign.standalone_code:
        return [
            Problem(
                ExperimentError.STANDALONE_CODE,
                "a code shared by everyone cannot carry a variant: experiments need unique codes",
                field_name,
            )
        ]
    return []

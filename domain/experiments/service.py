"""A/B experiments on a campaign: variants with their own offer, an optional holdout, sticky
hash-based assignment, per-variant results with a two-proportion z-test, and promotion."""

import contextlib
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain import campaigns
from domain.campaigns import (
    Campaign,
    CampaignInput,
    CampaignKind,
    CampaignStatus,
    Discount,
    DiscountInput,
    Rules,
    RulesInput,
    get_campaign,
)
from domain.code_models import Code
from domain.common import as_utc, object_id, utc_now
from domain.errors import DomainError, NotFound, Problem
from domain.pagination import Page, paginate
from domain.stats_tests import DEFAULT_ALPHA
from domain.templates import MessageTemplate

HOLDOUT = "holdout"
BUCKETS = 10_000
MIN_VARIANTS = 2
MAX_VARIANTS = 5
MAX_NAME = 200
MAX_ALPHA = 0.5
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


class ExperimentStatus(StrEnum):
    DRAFT = "DRAFT"
    RUNNING = "RUNNING"
    # Final: a stopped experiment keeps its results and can be promoted, not restarted.
    STOPPED = "STOPPED"


class Variant(BaseModel):
    key: str
    name: str
    weight: int
    # None: the campaign's own discount.
    discount: Discount | None = None
    # None: the campaign's own rules; else the rules its codes are validated and redeemed by.
    rules: Rules | None = None
    # "" for none: the id of a project template that publishCode(channel) sends instead.
    template_id: str = ""


class Experiment(Document):
    project_id: str
    campaign_id: str
    name: str
    status: ExperimentStatus = ExperimentStatus.DRAFT
    variants: list[Variant]
    # 0: no holdout. Weights are relative: an arm gets weight / (sum of all weights).
    holdout_weight: int = 0
    alpha: float = DEFAULT_ALPHA
    # The campaign's id while RUNNING, else None: a partial unique index allows one per campaign.
    running_campaign_id: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    promoted: bool = False
    promoted_variant: str = ""
    promoted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "experiments"
        indexes = [
            IndexModel(
                [("project_id", 1), ("running_campaign_id", 1)],
                unique=True,
                partialFilterExpression={"running_campaign_id": {"$type": "string"}},
                name="project_running_campaign_unique",
            ),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("promoted", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)

    def variant(self, key: str) -> Variant | None:
        return next((v for v in self.variants if v.key == key), None)

    @property
    def arms(self) -> list[tuple[str, int]]:
        """(key, weight) in bucket order: the variants as given, then the holdout."""
        arms = [(v.key, v.weight) for v in self.variants]
        return [*arms, (HOLDOUT, self.holdout_weight)] if self.holdout_weight else arms


class ExperimentAssignment(Document):
    """A customer's arm, stored the first time the experiment decides for them."""

    project_id: str
    experiment_id: str
    campaign_id: str
    customer_id: str
    # A variant's key, or "holdout".
    variant: str
    holdout: bool = False
    assigned_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "experiment_assignments"
        indexes = [
            IndexModel(
                [("project_id", 1), ("experiment_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_experiment_customer_unique",
            )
        ]


class Holdout(DomainError):
    """publishCode for a customer in the holdout group: deliberately no code."""

    def __init__(self) -> None:
        super().__init__(
            "HOLDOUT",
            "the customer is in the experiment's holdout group and gets no code",
            "customerId",
        )


def bucket(experiment_id: str, customer_id: str) -> int:
    """0..9,999 from sha256: the same experiment and customer give the same bucket anywhere."""
    digest = hashlib.sha256(f"{experiment_id}:{customer_id}".encode()).hexdigest()
    return int(digest, 16) % BUCKETS


def arm_for_bucket(position: int, arms: list[tuple[str, int]]) -> str:
    """The arm whose share of the cumulative weights holds the bucket (integer arithmetic)."""
    total = sum(weight for _, weight in arms)
    cumulative = 0
    for key, weight in arms:
        cumulative += weight
        if position * total < cumulative * BUCKETS:
            return key
    return arms[-1][0]


def assign(experiment_id: str, customer_id: str, arms: list[tuple[str, int]]) -> str:
    """The customer's arm: deterministic, so it is sticky without being stored first."""
    return arm_for_bucket(bucket(experiment_id, customer_id), arms)


@dataclass(frozen=True)
class Arm:
    """A customer's arm in a running experiment, as publishCode needs it."""

    project_id: str
    experiment_id: str
    campaign_id: str
    key: str

    @property
    def holdout(self) -> bool:
        return self.key == HOLDOUT

    @property
    def code_fields(self) -> dict[str, str]:
        """Stored on the customer's code, so redemption finds the variant's offer."""
        return {"experiment_id": self.experiment_id, "variant": self.key}


async def running_experiment(project_id: str, campaign_id: str) -> Experiment | None:
    return await Experiment.find_one({"project_id": project_id, "running_campaign_id": campaign_id})


async def arm_of(campaign: Campaign, customer_id: str) -> Arm | None:
    """The customer's arm in the campaign's running experiment; None without one."""
    experiment = await running_experiment(campaign.project_id, campaign.key)
    if experiment is None:
        return None
    return Arm(
        project_id=campaign.project_id,
        experiment_id=experiment.key,
        campaign_id=campaign.key,
        key=assign(experiment.key, customer_id, experiment.arms),
    )


async def record_assignment(arm: Arm, customer_id: str) -> None:
    """Stores the assignment once; a later call (or a concurrent one) keeps the first time."""
    with contextlib.suppress(DuplicateKeyError):
        await ExperimentAssignment.get_pymongo_collection().update_one(
            {
                "project_id": arm.project_id,
                "experiment_id": arm.experiment_id,
                "customer_id": customer_id,
            },
            {
                "$setOnInsert": {
                    "campaign_id": arm.campaign_id,
                    "variant": arm.key,
                    "holdout": arm.holdout,
                    "assigned_at": utc_now(),
                }
            },
            upsert=True,
        )


async def _experiment_of_code(code: Code) -> Experiment | None:
    if not code.experiment_id or not code.variant:
        return None
    return await Experiment.find_one(
        {"_id": object_id(code.experiment_id, "experiment"), "project_id": code.project_id}
    )


async def offer_for_code(campaign: Campaign, code: Code) -> Campaign:
    """The campaign as the code's holder gets it: a code published in a variant with its own
    discount or rules keeps them, even after the experiment stopped or another was promoted."""
    experiment = await _experiment_of_code(code)
    variant = experiment.variant(code.variant) if experiment is not None else None
    if variant is None:
        return campaign
    own: dict[str, Any] = {}
    if variant.discount is not None:
        own["discount"] = variant.discount
    if variant.rules is not None:
        own["rules"] = variant.rules
    return campaign.model_copy(update=own) if own else campaign


async def template_for_code(code: Code, channel: str) -> str:
    """The template publishCode(channel) sends: the code's variant's, else the one promoted on
    the campaign, when made for that channel; "" for the default."""
    experiment = await _experiment_of_code(code)
    variant = experiment.variant(code.variant) if experiment is not None else None
    if variant is None or not variant.template_id:
        promoted = (
            await Experiment.find(
                {"project_id": code.project_id, "campaign_id": code.campaign_id, "promoted": True}
            )
            .sort("-promoted_at")
            .limit(1)
            .to_list()
        )
        variant = promoted[0].variant(promoted[0].promoted_variant) if promoted else None
    if variant is None or not variant.template_id:
        return ""
    template = await MessageTemplate.find_one(
        {"_id": object_id(variant.template_id, "template"), "project_id": code.project_id}
    )
    return variant.template_id if template is not None and template.channel == channel else ""


# Creating, starting, stopping.


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


def _is_weight(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _variant(
    project_id: str, campaign: Campaign, index: int, given: VariantInput, problems: list[Problem]
) -> Variant:
    where = f"variants.{index}"
    key = given.key.strip()
    if not _KEY.match(key):
        problems.append(
            Problem(
                "INVALID_KEY",
                "a key is 1 to 40 letters, digits, '-' or '_', starting with a letter or digit",
                f"{where}.key",
            )
        )
    elif key.lower() == HOLDOUT:
        problems.append(Problem("RESERVED_KEY", "'holdout' names the holdout", f"{where}.key"))
    name = given.name.strip() or key
    if len(name) > MAX_NAME:
        problems.append(
            Problem("INVALID", f"name is at most {MAX_NAME} characters", f"{where}.name")
        )
    if not _is_weight(given.weight) or given.weight < 1:
        problems.append(
            Problem("INVALID_WEIGHT", "a weight is a whole number of 1 or more", f"{where}.weight")
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
            problems.append(Problem("NOT_FOUND", "template not found", f"{where}.templateId"))
    return Variant(
        key=key,
        name=name,
        weight=given.weight if _is_weight(given.weight) else 0,
        discount=discount,
        rules=rules,
        template_id=template_id,
    )


def _check_campaign(campaign: Campaign) -> list[Problem]:
    field_name = "campaignId"
    if campaign.kind != CampaignKind.DISCOUNT:
        return [Problem("CAMPAIGN_NOT_DISCOUNT", "only discount campaigns have codes", field_name)]
    if campaign.status == CampaignStatus.ENDED or (
        campaign.ends_at is not None and utc_now() >= as_utc(campaign.ends_at)
    ):
        return [Problem("CAMPAIGN_ENDED", "the campaign has ended", field_name)]
    if campaign.standalone_code:
        return [
            Problem(
                "STANDALONE_CODE",
                "a code shared by everyone cannot carry a variant: experiments need unique codes",
                field_name,
            )
        ]
    return []


async def create_experiment(project_id: str, data: ExperimentInput) -> Experiment:
    """A DRAFT experiment; every problem is collected and nothing is written unless none."""
    campaign = await get_campaign(project_id, data.campaign_id)
    problems = _check_campaign(campaign)
    name = data.name.strip()
    if not name or len(name) > MAX_NAME:
        problems.append(Problem("INVALID", f"name is 1 to {MAX_NAME} characters", "name"))
    if not MIN_VARIANTS <= len(data.variants) <= MAX_VARIANTS:
        problems.append(
            Problem(
                "INVALID_VARIANTS",
                f"an experiment has {MIN_VARIANTS} to {MAX_VARIANTS} variants",
                "variants",
            )
        )
    variants = [
        await _variant(project_id, campaign, index, given, problems)
        for index, given in enumerate(data.variants[:MAX_VARIANTS])
    ]
    repeated = [key for key, n in Counter(v.key for v in variants).items() if n > 1 and key]
    for key in repeated:
        problems.append(Problem("DUPLICATE_KEY", f"the key {key!r} is used twice", "variants"))
    if not _is_weight(data.holdout_weight) or data.holdout_weight < 0:
        problems.append(
            Problem(
                "INVALID_WEIGHT", "holdoutWeight is a whole number, 0 for none", "holdoutWeight"
            )
        )
    elif sum(v.weight for v in variants) + data.holdout_weight > BUCKETS:
        # Each arm then gets at least one of the 10,000 buckets.
        problems.append(
            Problem("INVALID_WEIGHT", f"the weights add up to at most {BUCKETS}", "variants")
        )
    if not 0 < data.alpha <= MAX_ALPHA:
        problems.append(
            Problem("INVALID_ALPHA", f"alpha is more than 0 and at most {MAX_ALPHA}", "alpha")
        )
    if problems:
        raise DomainError.of(problems)
    experiment = Experiment(
        project_id=project_id,
        campaign_id=campaign.key,
        name=name,
        variants=variants,
        holdout_weight=data.holdout_weight,
        alpha=data.alpha,
    )
    await experiment.insert()
    return experiment


async def get_experiment(project_id: str, experiment_id: str, field: str = "id") -> Experiment:
    experiment = await Experiment.find_one(
        {"_id": object_id(experiment_id, "experiment", field), "project_id": project_id}
    )
    if experiment is None:
        raise NotFound("experiment", field)
    return experiment


async def list_experiments(
    project_id: str, first: int, after: str | None, campaign_id: str | None = None
) -> Page[Experiment]:
    query: dict[str, Any] = {"project_id": project_id}
    if campaign_id:
        query["campaign_id"] = campaign_id
    return await paginate(Experiment, query, first, after)


def _wrong_status(experiment: Experiment, wanted: str) -> DomainError:
    return DomainError(
        f"EXPERIMENT_{experiment.status.value}",
        f"the experiment is {experiment.status}, {wanted}",
        "id",
    )


async def start_experiment(project_id: str, experiment_id: str) -> Experiment:
    """DRAFT -> RUNNING; the partial unique index refuses a second running one per campaign."""
    experiment = await get_experiment(project_id, experiment_id)
    problems = _check_campaign(await get_campaign(project_id, experiment.campaign_id))
    if problems:
        raise DomainError.of(problems)
    try:
        result = await Experiment.get_pymongo_collection().update_one(
            {
                "_id": experiment.id,
                "project_id": project_id,
                "status": ExperimentStatus.DRAFT.value,
            },
            {
                "$set": {
                    "status": ExperimentStatus.RUNNING.value,
                    "running_campaign_id": experiment.campaign_id,
                    "started_at": utc_now(),
                }
            },
        )
    except DuplicateKeyError:
        raise DomainError(
            "EXPERIMENT_ALREADY_RUNNING",
            "another experiment is running on this campaign: stop it first",
            "id",
        ) from None
    if result.modified_count == 0:
        raise _wrong_status(await get_experiment(project_id, experiment_id), "not DRAFT")
    return await get_experiment(project_id, experiment_id)


async def stop_experiment(project_id: str, experiment_id: str) -> Experiment:
    """RUNNING (or DRAFT, abandoned) -> STOPPED, once; codes already given keep their offer."""
    oid = object_id(experiment_id, "experiment")
    result = await Experiment.get_pymongo_collection().update_one(
        {
            "_id": oid,
            "project_id": project_id,
            "status": {"$in": [ExperimentStatus.DRAFT.value, ExperimentStatus.RUNNING.value]},
        },
        {
            "$set": {
                "status": ExperimentStatus.STOPPED.value,
                "running_campaign_id": None,
                "stopped_at": utc_now(),
            }
        },
    )
    experiment = await get_experiment(project_id, experiment_id)
    if result.modified_count == 0:
        raise _wrong_status(experiment, "already stopped")
    return experiment

"""Sticky hash-based assignment of customers to an experiment's arms."""

import contextlib
import hashlib
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from domain.campaigns import (
    Campaign,
)
from domain.common import utc_now
from domain.errors import DomainError
from domain.experiments.errors import ExperimentError
from domain.experiments.models import BUCKETS, HOLDOUT, Experiment, ExperimentAssignment


class Holdout(DomainError):
    """publishCode for a customer in the holdout group: deliberately no code."""

    def __init__(self) -> None:
        super().__init__(
            ExperimentError.HOLDOUT,
            "the customer is in the experiment's holdout group and gets no code",
            "customerId",
        )


def bucket(*, experiment_id: str, customer_id: str) -> int:
    """0..9,999 from sha256: the same experiment and customer give the same bucket anywhere."""
    digest = hashlib.sha256(f"{experiment_id}:{customer_id}".encode()).hexdigest()
    return int(digest, 16) % BUCKETS


def arm_for_bucket(*, position: int, arms: list[tuple[str, int]]) -> str:
    """The arm whose share of the cumulative weights holds the bucket (integer arithmetic)."""
    total = sum(weight for _, weight in arms)
    cumulative = 0
    for key, weight in arms:
        cumulative += weight
        if position * total < cumulative * BUCKETS:
            return key
    return arms[-1][0]


def assign(*, experiment_id: str, customer_id: str, arms: list[tuple[str, int]]) -> str:
    """The customer's arm: deterministic, so it is sticky without being stored first."""
    return arm_for_bucket(
        position=bucket(experiment_id=experiment_id, customer_id=customer_id), arms=arms
    )


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


async def running_experiment(*, project_id: str, campaign_id: str) -> Experiment | None:
    return await Experiment.find_one({"project_id": project_id, "running_campaign_id": campaign_id})


async def arm_of(*, campaign: Campaign, customer_id: str) -> Arm | None:
    """The customer's arm in the campaign's running experiment; None without one."""
    experiment = await running_experiment(project_id=campaign.project_id, campaign_id=campaign.key)
    if experiment is None:
        return None
    return Arm(
        project_id=campaign.project_id,
        experiment_id=experiment.key,
        campaign_id=campaign.key,
        key=assign(experiment_id=experiment.key, customer_id=customer_id, arms=experiment.arms),
    )


async def record_assignment(*, arm: Arm, customer_id: str) -> None:
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

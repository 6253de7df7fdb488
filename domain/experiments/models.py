"""Experiment and assignment documents, their variants and statuses."""

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel

from domain.campaigns import (
    Discount,
    Rules,
)
from domain.common import utc_now
from domain.stats_tests import DEFAULT_ALPHA

HOLDOUT = "holdout"
BUCKETS = 10_000


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

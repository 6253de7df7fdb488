"""Redemption documents, their statuses and the counter documents limits are kept in."""

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import Money, utc_now
from domain.discounts import Order

# Codes, campaigns and the counter documents all keep their count under this name.
COUNTER_FIELD = "redeemed_count"


class RedemptionStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"


class RedemptionChannel(StrEnum):
    ONLINE = "ONLINE"
    POS = "POS"


class Redemption(Document):
    """One use of a code. Inserted PENDING as a claim before any counter moves."""

    project_id: str
    # The normalized code, as looked up.
    code: str
    code_id: str
    campaign_id: str
    # "" without a customer: the embedded server cannot match null reliably.
    customer_id: str = ""
    order: Order | None = None
    discount: Money | None = None
    channel: RedemptionChannel = RedemptionChannel.ONLINE
    api_key_id: str = ""
    # Absent (None) keys are outside the partial unique index.
    idempotency_key: str | None = None
    # "<project>|<key>": the key as one indexed field, which the embedded server looks up
    # without scanning (it cannot use the compound index). Set with the key.
    idempotency_slot: str | None = None
    status: RedemptionStatus = RedemptionStatus.PENDING
    # The campaign-local day whose per-day counter this redemption takes.
    day: str
    # True from the claim until a rollback has given the counters back: reconciliation counts
    # these, so a redemption in flight is never missing from a recomputed counter.
    holds_counters: bool = True
    created_at: datetime = Field(default_factory=utc_now)
    completed_at: datetime | None = None
    rolled_back_at: datetime | None = None
    rollback_reason: str = ""
    # The message that carried the code to the customer, if one did (channel attribution).
    message_id: str = ""
    message_channel: str = ""
    # Copied from the code: experiment results group redemptions on these plain fields.
    experiment_id: str = ""
    variant: str = ""

    class Settings:
        name = "redemptions"
        indexes = [
            IndexModel(
                [("project_id", 1), ("idempotency_key", 1)],
                unique=True,
                partialFilterExpression={"idempotency_key": {"$type": "string"}},
                name="project_idempotency_key_unique",
            ),
            IndexModel(
                [("idempotency_slot", 1)],
                unique=True,
                partialFilterExpression={"idempotency_slot": {"$type": "string"}},
                name="idempotency_slot_unique",
            ),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("holds_counters", 1)]),
            IndexModel([("project_id", 1), ("code_id", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
            IndexModel([("project_id", 1), ("code", 1)]),
            # Orders find the redemptions made for them when they are cancelled or refunded.
            IndexModel([("project_id", 1), ("order.id", 1)]),
            IndexModel([("project_id", 1), ("message_id", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


def idempotency_slot(project_id: str, key: str | None) -> str | None:
    return None if key is None else f"{project_id}|{key}"


class CustomerRedemptionCounter(Document):
    """How often a customer has redeemed a campaign; moved only by conditional $inc."""

    project_id: str
    campaign_id: str
    customer_id: str
    redeemed_count: int = 0

    class Settings:
        name = "redemption_customer_counters"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_campaign_customer_unique",
            )
        ]


class DailyRedemptionCounter(Document):
    """How often a campaign was redeemed on one day of its own time zone."""

    project_id: str
    campaign_id: str
    day: str
    redeemed_count: int = 0

    class Settings:
        name = "redemption_day_counters"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("day", 1)],
                unique=True,
                name="project_campaign_day_unique",
            )
        ]

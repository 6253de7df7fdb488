"""GraphQL enums of automations: their status, action types and scheduled actions' status."""

from enum import Enum

from schema.described_enums import described_enum


@described_enum(
    name="AutomationStatus",
    description="Whether an automation acts on events.",
    values={
        "ACTIVE": "Matching events schedule its action.",
        "PAUSED": "It schedules nothing; actions already pending are skipped when due.",
    },
)
class AutomationStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


@described_enum(
    name="AutomationActionType",
    description="What an automation does for the customer.",
    values={
        "SEND_CODE": (
            "Publishes a code of a DISCOUNT campaign to the customer and sends it on a channel."
        ),
        "AWARD_POINTS": "Gives the customer points in a LOYALTY program.",
    },
)
class ActionTypeEnum(Enum):
    SEND_CODE = "SEND_CODE"
    AWARD_POINTS = "AWARD_POINTS"


@described_enum(
    name="ScheduledActionStatus",
    description="What became of a scheduled action.",
    values={
        "PENDING": "Waiting for its due time (or being performed).",
        "DONE": "Performed.",
        "CANCELLED": "Cancelled by one of the automation's cancelOn events before it was due.",
        "SKIPPED": (
            "Not performed: the frequency cap, a paused automation, an erased customer or the "
            "segments ruled it out."
        ),
        "FAILED": "Performing it failed for good (after 5 attempts); `detail` says why.",
    },
)
class ActionStatusEnum(Enum):
    PENDING = "PENDING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
